//! Topic administration against a real 3-node KRaft cluster.

use metricpipe_admin::{create_topics, describe_topics, AdminOptions, TopicOutcome, TopicSpec};
use metricpipe_testkit::shared_cluster;

fn options() -> AdminOptions {
    AdminOptions::new(shared_cluster().bootstrap_servers())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_topics_get_three_partitions_and_two_replicas_and_create_is_idempotent() {
    let opts = options();
    // The defaults' layout, under names of this test's own: the cluster is the run's.
    let suffix = metricpipe_testkit::unique("admin");
    let specs: Vec<TopicSpec> = TopicSpec::pipeline_defaults()
        .into_iter()
        .map(|s| TopicSpec {
            name: format!("{}.{suffix}", s.name),
            ..s
        })
        .collect();

    let first = create_topics(&opts, &specs).await.expect("first create");
    assert_eq!(first.len(), 4);
    assert!(
        first.iter().all(|(_, o)| *o == TopicOutcome::Created),
        "{first:?}"
    );

    let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    let infos = describe_topics(&opts, &names).await.expect("describe");
    assert_eq!(infos.len(), 4);
    for t in &infos {
        assert!(t.error.is_none(), "{}: {:?}", t.name, t.error);
        assert_eq!(t.partitions.len(), 3, "{}", t.name);
        assert_eq!(t.replication_factor, 2, "{}", t.name);
        for p in &t.partitions {
            assert!(
                p.leader >= 1,
                "{} partition {} has no leader",
                t.name,
                p.partition
            );
            assert_eq!(p.replicas.len(), 2);
        }
    }

    let second = create_topics(&opts, &specs).await.expect("second create");
    assert!(
        second.iter().all(|(_, o)| *o == TopicOutcome::Exists),
        "{second:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_topic_with_other_settings_is_reported_not_changed() {
    let opts = options();
    let spec = |partitions| TopicSpec {
        name: "admin.mismatch".into(),
        partitions,
        replication_factor: 1,
    };
    let created = create_topics(&opts, &[spec(2)]).await.expect("create");
    assert_eq!(created[0].1, TopicOutcome::Created);

    let again = create_topics(&opts, &[spec(5)])
        .await
        .expect("create again");
    assert_eq!(
        again[0].1,
        TopicOutcome::Mismatch {
            partitions: 2,
            replication_factor: 1
        }
    );
    let info = describe_topics(&opts, &["admin.mismatch".to_string()])
        .await
        .expect("describe");
    assert_eq!(
        info[0].partitions.len(),
        2,
        "the topic must be left as it was"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describing_an_unknown_topic_says_how_to_create_it() {
    let infos = describe_topics(&options(), &["no.such.topic".to_string()])
        .await
        .expect("describe");
    let err = infos[0].error.as_deref().unwrap_or_default();
    assert!(err.contains("topics create"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_cluster_is_a_clear_error_not_a_hang() {
    let mut opts = AdminOptions::new("127.0.0.1:1");
    opts.timeout = std::time::Duration::from_secs(2);
    let err = create_topics(&opts, &TopicSpec::pipeline_defaults())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("127.0.0.1:1"), "{err}");
    assert!(err.contains("--bootstrap-servers"), "{err}");
}
