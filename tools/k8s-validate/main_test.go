package main

import (
	"strings"
	"testing"
)

const ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: m\n"

func problemsOf(t *testing.T, doc string) string {
	t.Helper()
	objs, p := decode("test.yaml", []byte(doc))
	p = append(p, check(objs)...)
	return strings.Join(p, "\n")
}

func TestTheDeployManifestsAreValid(t *testing.T) {
	objs, problems, err := run([]string{"../../deploy/kubernetes"})
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) > 0 {
		t.Fatalf("problems:\n%s", strings.Join(problems, "\n"))
	}
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.kind]++
	}
	for _, k := range []string{"DaemonSet", "Deployment", "PodDisruptionBudget", "Job", "Secret"} {
		if kinds[k] == 0 {
			t.Errorf("no %s in deploy/kubernetes: %v", k, kinds)
		}
	}
}

func TestAnUnknownFieldIsRejected(t *testing.T) {
	got := problemsOf(t, ns+"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: m\ndatta:\n  a: b\n")
	if !strings.Contains(got, `unknown field "datta"`) {
		t.Fatalf("want an unknown-field error, got: %q", got)
	}
}

func TestAWrongTypeIsRejected(t *testing.T) {
	got := problemsOf(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  namespace: m\nspec:\n  replicas: three\n")
	if got == "" {
		t.Fatal("replicas: three was accepted")
	}
}

func TestDanglingReferencesAreReported(t *testing.T) {
	got := problemsOf(t, `apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: m}
spec:
  replicas: 1
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: y}}
    spec:
      containers:
        - name: c
          image: i
          env:
            - name: P
              valueFrom: {secretKeyRef: {name: nosuch, key: k}}
          readinessProbe: {httpGet: {path: /readyz, port: metrics}}
          volumeMounts: [{name: v, mountPath: /v}]
`)
	for _, want := range []string{"does not match", "no Secret nosuch", `no port named "metrics"`, "mounts volume v", "no memory limit"} {
		if !strings.Contains(got, want) {
			t.Errorf("want %q in:\n%s", want, got)
		}
	}
}
