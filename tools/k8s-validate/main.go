// Command k8s-validate checks metricpipe's Kubernetes manifests strictly, without a cluster:
// every document is decoded into its Kubernetes API type (k8s.io/api) with unknown and
// duplicate fields rejected, then cross-checked: selectors match their pod templates, every
// Secret, ConfigMap, key, volume and named port a pod refers to exists in the set, requests
// do not exceed limits, and scrape annotations name a declared port.
//
//	go run . ../../deploy/kubernetes
//
// It exits 1 and lists every problem, or prints one line per object and exits 0.
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// object is one decoded document and where it came from.
type object struct {
	where string
	kind  string
	meta  *metav1.ObjectMeta
	value any
}

func newTyped(apiVersion, kind string) (any, *metav1.ObjectMeta, bool) {
	switch apiVersion + "/" + kind {
	case "v1/Namespace":
		o := &corev1.Namespace{}
		return o, &o.ObjectMeta, true
	case "v1/Secret":
		o := &corev1.Secret{}
		return o, &o.ObjectMeta, true
	case "v1/ConfigMap":
		o := &corev1.ConfigMap{}
		return o, &o.ObjectMeta, true
	case "v1/Service":
		o := &corev1.Service{}
		return o, &o.ObjectMeta, true
	case "v1/ServiceAccount":
		o := &corev1.ServiceAccount{}
		return o, &o.ObjectMeta, true
	case "apps/v1/DaemonSet":
		o := &appsv1.DaemonSet{}
		return o, &o.ObjectMeta, true
	case "apps/v1/Deployment":
		o := &appsv1.Deployment{}
		return o, &o.ObjectMeta, true
	case "policy/v1/PodDisruptionBudget":
		o := &policyv1.PodDisruptionBudget{}
		return o, &o.ObjectMeta, true
	case "batch/v1/Job":
		o := &batchv1.Job{}
		return o, &o.ObjectMeta, true
	}
	return nil, nil, false
}

// splitDocuments splits a YAML stream on `---` lines, dropping empty documents.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(append([]byte("\n"), data...), []byte("\n---")) {
		trimmed := bytes.TrimSpace(d)
		onlyComments := true
		for _, line := range bytes.Split(trimmed, []byte("\n")) {
			l := bytes.TrimSpace(line)
			if len(l) > 0 && l[0] != '#' {
				onlyComments = false
				break
			}
		}
		if !onlyComments {
			docs = append(docs, d)
		}
	}
	return docs
}

// decode returns the objects of one file, or the problems found decoding it.
func decode(path string, data []byte) ([]object, []string) {
	var objs []object
	var problems []string
	for i, doc := range splitDocuments(data) {
		where := fmt.Sprintf("%s#%d", path, i+1)
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			problems = append(problems, fmt.Sprintf("%s: not YAML: %v", where, err))
			continue
		}
		typed, meta, ok := newTyped(tm.APIVersion, tm.Kind)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: unknown apiVersion/kind %q/%q", where, tm.APIVersion, tm.Kind))
			continue
		}
		if err := yaml.UnmarshalStrict(doc, typed); err != nil {
			problems = append(problems, fmt.Sprintf("%s (%s): %v", where, tm.Kind, err))
			continue
		}
		objs = append(objs, object{where: where, kind: tm.Kind, meta: meta, value: typed})
	}
	return objs, problems
}

type set struct {
	secrets    map[string]*corev1.Secret
	configMaps map[string]*corev1.ConfigMap
}

func key(ns, name string) string { return ns + "/" + name }

func check(objs []object) []string {
	var p []string
	add := func(where, format string, args ...any) {
		p = append(p, where+": "+fmt.Sprintf(format, args...))
	}
	s := set{secrets: map[string]*corev1.Secret{}, configMaps: map[string]*corev1.ConfigMap{}}
	seen := map[string]string{}
	for _, o := range objs {
		for _, msg := range validation.IsDNS1123Subdomain(o.meta.Name) {
			add(o.where, "metadata.name %q: %s", o.meta.Name, msg)
		}
		if o.kind != "Namespace" && o.meta.Namespace == "" {
			add(o.where, "%s %s has no metadata.namespace", o.kind, o.meta.Name)
		}
		id := o.kind + " " + key(o.meta.Namespace, o.meta.Name)
		if prev, dup := seen[id]; dup {
			add(o.where, "%s is also defined at %s", id, prev)
		}
		seen[id] = o.where
		switch v := o.value.(type) {
		case *corev1.Secret:
			s.secrets[key(v.Namespace, v.Name)] = v
		case *corev1.ConfigMap:
			s.configMaps[key(v.Namespace, v.Name)] = v
		}
	}
	var templates []struct {
		where, ns string
		labels    map[string]string
	}
	for _, o := range objs {
		var sel *metav1.LabelSelector
		var tpl *corev1.PodTemplateSpec
		switch v := o.value.(type) {
		case *appsv1.DaemonSet:
			sel, tpl = v.Spec.Selector, &v.Spec.Template
		case *appsv1.Deployment:
			sel, tpl = v.Spec.Selector, &v.Spec.Template
			if v.Spec.Replicas == nil || *v.Spec.Replicas < 1 {
				add(o.where, "Deployment %s: spec.replicas must be set and at least 1", v.Name)
			}
		case *batchv1.Job:
			sel, tpl = v.Spec.Selector, &v.Spec.Template
			rp := v.Spec.Template.Spec.RestartPolicy
			if rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever {
				add(o.where, "Job %s: restartPolicy must be OnFailure or Never, not %q", v.Name, rp)
			}
		default:
			continue
		}
		if sel != nil {
			selector, err := metav1.LabelSelectorAsSelector(sel)
			if err != nil {
				add(o.where, "spec.selector: %v", err)
			} else if !selector.Matches(labels.Set(tpl.Labels)) {
				add(o.where, "spec.selector %v does not match the pod template's labels %v", selector, tpl.Labels)
			}
		} else if o.kind != "Job" {
			add(o.where, "%s has no spec.selector", o.kind)
		}
		templates = append(templates, struct {
			where, ns string
			labels    map[string]string
		}{o.where, o.meta.Namespace, tpl.Labels})
		p = append(p, checkPod(o.where, o.meta.Namespace, tpl, s)...)
	}
	for _, o := range objs {
		pdb, ok := o.value.(*policyv1.PodDisruptionBudget)
		if !ok {
			continue
		}
		if pdb.Spec.MinAvailable == nil && pdb.Spec.MaxUnavailable == nil {
			add(o.where, "PodDisruptionBudget %s sets neither minAvailable nor maxUnavailable", pdb.Name)
		}
		selector, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || pdb.Spec.Selector == nil {
			add(o.where, "PodDisruptionBudget %s: bad or missing selector: %v", pdb.Name, err)
			continue
		}
		matched := false
		for _, t := range templates {
			if t.ns == pdb.Namespace && selector.Matches(labels.Set(t.labels)) {
				matched = true
			}
		}
		if !matched {
			add(o.where, "PodDisruptionBudget %s selects no workload's pods", pdb.Name)
		}
	}
	return p
}

func checkPod(where, ns string, tpl *corev1.PodTemplateSpec, s set) []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, where+": "+fmt.Sprintf(format, args...)) }
	spec := &tpl.Spec
	volumes := map[string]bool{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = true
		if v.ConfigMap != nil {
			cm, ok := s.configMaps[key(ns, v.ConfigMap.Name)]
			if !ok {
				add("volume %s: no ConfigMap %s in namespace %s", v.Name, v.ConfigMap.Name, ns)
			}
			for _, item := range v.ConfigMap.Items {
				if ok && !hasKey(cm.Data, item.Key) {
					add("volume %s: ConfigMap %s has no key %s", v.Name, cm.Name, item.Key)
				}
			}
		}
		if v.Secret != nil {
			if _, ok := s.secrets[key(ns, v.Secret.SecretName)]; !ok {
				add("volume %s: no Secret %s in namespace %s", v.Name, v.Secret.SecretName, ns)
			}
		}
		if v.HostPath != nil && !strings.HasPrefix(v.HostPath.Path, "/") {
			add("volume %s: hostPath %q is not absolute", v.Name, v.HostPath.Path)
		}
	}
	if len(spec.Containers) == 0 {
		add("the pod template has no containers")
	}
	for _, c := range spec.Containers {
		if c.Image == "" {
			add("container %s has no image", c.Name)
		}
		ports := map[string]int32{}
		numbers := map[int32]bool{}
		for _, port := range c.Ports {
			if port.Name != "" {
				ports[port.Name] = port.ContainerPort
			}
			numbers[port.ContainerPort] = true
		}
		for _, probe := range []struct {
			name string
			p    *corev1.Probe
		}{{"readinessProbe", c.ReadinessProbe}, {"livenessProbe", c.LivenessProbe}, {"startupProbe", c.StartupProbe}} {
			if probe.p == nil || probe.p.HTTPGet == nil {
				continue
			}
			port := probe.p.HTTPGet.Port
			if port.StrVal != "" {
				if _, ok := ports[port.StrVal]; !ok {
					add("container %s %s: no port named %q", c.Name, probe.name, port.StrVal)
				}
			}
		}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				add("container %s mounts volume %s, which the pod does not declare", c.Name, m.Name)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				sec, ok := s.secrets[key(ns, r.Name)]
				optional := r.Optional != nil && *r.Optional
				switch {
				case !ok:
					add("container %s env %s: no Secret %s in namespace %s", c.Name, e.Name, r.Name, ns)
				case !optional && !hasKey(sec.StringData, r.Key) && !hasBytes(sec.Data, r.Key):
					add("container %s env %s: Secret %s has no key %s", c.Name, e.Name, r.Name, r.Key)
				}
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				if cm, ok := s.configMaps[key(ns, r.Name)]; !ok || !hasKey(cm.Data, r.Key) {
					add("container %s env %s: no ConfigMap key %s/%s", c.Name, e.Name, r.Name, r.Key)
				}
			}
		}
		for res, req := range c.Resources.Requests {
			if lim, ok := c.Resources.Limits[res]; ok && req.Cmp(lim) > 0 {
				add("container %s: %s request %s exceeds its limit %s", c.Name, res, req.String(), lim.String())
			}
		}
		if c.Resources.Limits.Memory().IsZero() {
			add("container %s has no memory limit", c.Name)
		}
		if port, ok := tpl.Annotations["prometheus.io/port"]; ok {
			var n int32
			if _, err := fmt.Sscanf(port, "%d", &n); err != nil || !numbers[n] {
				add("annotation prometheus.io/port=%s names no container port", port)
			}
		}
	}
	return p
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }
func hasBytes(m map[string][]byte, k string) bool {
	_, ok := m[k]
	return ok
}

// files lists the *.yaml and *.yml files of the arguments (files or directories).
func files(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		info, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			out = append(out, a)
			continue
		}
		for _, pattern := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(a, pattern))
			out = append(out, m...)
		}
	}
	sort.Strings(out)
	return out, nil
}

func run(args []string) ([]object, []string, error) {
	paths, err := files(args)
	if err != nil {
		return nil, nil, err
	}
	if len(paths) == 0 {
		return nil, nil, fmt.Errorf("no *.yaml or *.yml files in %v", args)
	}
	var objs []object
	var problems []string
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, err
		}
		o, p := decode(path, data)
		objs = append(objs, o...)
		problems = append(problems, p...)
	}
	return objs, append(problems, check(objs)...), nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: k8s-validate DIR_OR_FILE...")
		os.Exit(2)
	}
	objs, problems, err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(2)
	}
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, "invalid:", p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
	for _, o := range objs {
		fmt.Printf("ok %s %s/%s (%s)\n", o.kind, o.meta.Namespace, o.meta.Name, o.where)
	}
}
