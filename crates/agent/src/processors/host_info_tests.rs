//! Fake hostfs roots laid out like real distributions; the expected values are what
//! go-sysinfo's `getOSInfo` gives for the same files (its os_test.go cases).

use super::*;

fn root(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn os(files: &[(&str, &str)]) -> OsInfo {
    read_os(root(files).path()).expect("a release file")
}

const DEBIAN12: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"#;

#[test]
fn debian_os_release() {
    assert_eq!(
        os(&[("etc/os-release", DEBIAN12)]),
        OsInfo {
            os_type: "linux".into(),
            family: "debian".into(),
            platform: "debian".into(),
            name: "Debian GNU/Linux".into(),
            version: "12 (bookworm)".into(),
            codename: "bookworm".into(),
            build: String::new(),
        }
    );
}

#[test]
fn ubuntu_reads_lsb_release_then_os_release() {
    let lsb = "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\nDISTRIB_DESCRIPTION=\"Ubuntu 22.04.4 LTS\"\n";
    let osr = "PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nVERSION=\"22.04.4 LTS (Jammy Jellyfish)\"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\nUBUNTU_CODENAME=jammy\n";
    let got = os(&[("etc/lsb-release", lsb), ("etc/os-release", osr)]);
    assert_eq!(got.platform, "ubuntu");
    assert_eq!(got.family, "debian");
    assert_eq!(got.name, "Ubuntu");
    assert_eq!(got.version, "22.04.4 LTS (Jammy Jellyfish)");
    assert_eq!(got.codename, "jammy");
}

#[test]
fn centos7_takes_its_codename_from_the_distrib_release_file() {
    let osr = "NAME=\"CentOS Linux\"\nVERSION=\"7 (Core)\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\nPRETTY_NAME=\"CentOS Linux 7 (Core)\"\n";
    let rel = "CentOS Linux release 7.4.1708 (Core) \n";
    let got = os(&[
        ("etc/os-release", osr),
        ("etc/centos-release", rel),
        ("etc/redhat-release", rel),
        ("etc/system-release", rel),
    ]);
    assert_eq!(
        (
            got.family.as_str(),
            got.platform.as_str(),
            got.name.as_str()
        ),
        ("redhat", "centos", "CentOS Linux")
    );
    assert_eq!(got.version, "7 (Core)");
    assert_eq!(got.codename, "Core");
}

#[test]
fn centos6_without_os_release_falls_back_to_the_distrib_file() {
    let got = os(&[("etc/centos-release", "CentOS release 6.9 (Final)\n")]);
    assert_eq!(
        got,
        OsInfo {
            os_type: "linux".into(),
            family: "redhat".into(),
            platform: "centos".into(),
            name: "CentOS".into(),
            version: "6.9 (Final)".into(),
            codename: "Final".into(),
            build: String::new(),
        }
    );
}

#[test]
fn a_distrib_file_without_a_newline_is_skipped_as_go_sysinfo_does() {
    let dir = root(&[("etc/centos-release", "CentOS release 6.9 (Final)")]);
    assert_eq!(read_os(dir.path()), None);
}

#[test]
fn family_from_prefix_and_from_id_like() {
    let leap = "NAME=\"openSUSE Leap\"\nVERSION=\"15.4\"\nID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\nVERSION_ID=\"15.4\"\n";
    let got = os(&[("etc/os-release", leap)]);
    assert_eq!(
        (got.family.as_str(), got.platform.as_str()),
        ("suse", "opensuse-leap")
    );
    assert_eq!((got.version.as_str(), got.codename.as_str()), ("15.4", ""));

    let pop = "NAME=\"Pop!_OS\"\nVERSION=\"22.04 LTS\"\nID=pop\nID_LIKE=\"ubuntu debian\"\n";
    assert_eq!(os(&[("etc/os-release", pop)]).family, "debian");

    let arch = "NAME=\"Arch Linux ARM\"\nID=archarm\nID_LIKE=arch\nBUILD_ID=rolling\n";
    let got = os(&[("etc/os-release", arch)]);
    assert_eq!(
        (got.family.as_str(), got.build.as_str()),
        ("arch", "rolling")
    );
    assert_eq!(got.version, "");

    assert_eq!(linux_family("Unknown"), "");
    assert_eq!(linux_family("RHEL"), "redhat");
}

#[test]
fn codename_from_the_version_and_quotes_as_go_unquotes_them() {
    let osr = "NAME='Odd Linux'\nID=\"odd\"\nVERSION=\"3.1.7 (Maple Leaf)\"\n# comment=ignored\n\nBROKEN LINE\n";
    let got = os(&[("etc/os-release", osr)]);
    // A multi-character single-quoted value is not a Go literal: it stays as written.
    assert_eq!(got.name, "'Odd Linux'");
    assert_eq!(got.codename, "Maple Leaf");
    assert_eq!(got.family, "");
    assert_eq!(go_unquote(r#""a\"b""#).as_deref(), Some("a\"b"));
    assert_eq!(go_unquote("`raw`").as_deref(), Some("raw"));
    assert_eq!(go_unquote("'x'").as_deref(), Some("x"));
    assert_eq!(go_unquote("plain"), None);
}

#[test]
fn alpine_keeps_a_patch_version_and_no_codename() {
    let osr =
        "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.17.3\nPRETTY_NAME=\"Alpine Linux v3.17\"\n";
    let got = os(&[("etc/os-release", osr)]);
    assert_eq!(
        (
            got.family.as_str(),
            got.version.as_str(),
            got.codename.as_str()
        ),
        ("alpine", "3.17.3", "")
    );
}

#[test]
fn machine_id_locations_in_order_and_trimmed() {
    let dir = root(&[("var/lib/dbus/machine-id", "  abc123\n")]);
    assert_eq!(machine_id(dir.path()).as_deref(), Some("abc123"));
    let dir = root(&[
        ("etc/machine-id", "first\n"),
        ("var/lib/dbus/machine-id", "second\n"),
    ]);
    assert_eq!(machine_id(dir.path()).as_deref(), Some("first"));
    assert_eq!(machine_id(root(&[]).path()), None);
}

#[test]
fn containerized_from_proc_one_cgroup() {
    assert!(containerized_cgroup(
        "12:pids:/docker/3f1e2d\n0::/system.slice/containerd.service\n"
    ));
    assert!(containerized_cgroup("0::/kubepods/besteffort/pod1\n"));
    assert!(containerized_cgroup("1:name=systemd:/lxc/c1\n"));
    assert!(!containerized_cgroup("0::/\n"));
    assert!(!containerized_cgroup(
        "1:name=systemd:/init.scope\n0::/init.scope\n"
    ));
    assert!(!containerized(Path::new("/nonexistent/proc/1/cgroup")));
}
