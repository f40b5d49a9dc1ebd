package realnode

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/runner"
)

// stagesCI is a build of four stages: lint and docs need nothing and run
// side by side; unit needs lint and fails with 3; integration needs unit,
// so it never starts. Every stage leaves a report for --artifacts.
const stagesCI = `artifacts: ["/tmp/reports"]
	stages: {
		lint: command: ["sh", "-c", "mkdir -p /tmp/reports && echo lint > /tmp/reports/lint.txt && sleep 2 && echo lint ok"]
		docs: command: ["sh", "-c", "mkdir -p /tmp/reports && echo docs > /tmp/reports/docs.txt && sleep 1 && echo docs ok"]
		unit: {
			command: ["sh", "-c", "mkdir -p /tmp/reports && echo unit > /tmp/reports/unit.txt && echo unit failing; exit 3"]
			needs: ["lint"]
		}
		integration: {
			command: ["sh", "-c", "echo integration ran"]
			needs: ["unit"]
		}
	}`

type stagesReport struct {
	Outcome  string `json:"outcome"`
	ExitCode int    `json:"exitCode"`
	Stages   []struct {
		Name      string   `json:"name"`
		StartedAt *float64 `json:"startedAtSeconds"`
		Phases    []struct {
			Name    string  `json:"name"`
			Seconds float64 `json:"seconds"`
		} `json:"phases"`
		Outcome  string `json:"outcome"`
		ExitCode *int   `json:"exitCode"`
		Error    string `json:"error"`
	} `json:"stages"`
}

func readStagesReport(t *testing.T, path string) (stagesReport, map[string]int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep stagesReport
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, data)
	}
	index := map[string]int{}
	for i, st := range rep.Stages {
		index[st.Name] = i
	}
	return rep, index
}

// A staged build on the real node: independent stages run side by side,
// a stage starts only after what it needs passed, the first failure's exit
// code is the run's, a stage after it is skipped; each stage's log lines
// carry its name; the report times every stage; each stage's artifacts
// are copied into a directory of its own; the JUnit file shows the stages.
func TestStagesGraphWithOneFailure(t *testing.T) {
	dir := service(t, "real-stages", stagesCI)
	out, reportPath, junit := t.TempDir(), filepath.Join(t.TempDir(), "report.json"), filepath.Join(t.TempDir(), "junit.xml")
	r := run(t, "run", "--build-id", "stages-1", "--artifacts", out, "--report", reportPath, "--junit", junit, dir)
	e2ekit.WantCode(t, r, 3)
	for _, line := range []string{"[lint] lint ok\n", "[docs] docs ok\n", "[unit] unit failing\n"} {
		e2ekit.WantContains(t, "stdout", r.Stdout, line)
	}
	if strings.Contains(r.Stdout, "integration ran") {
		t.Error("integration ran although the unit stage it needs failed")
	}
	e2ekit.WantContains(t, "stderr", r.Stderr, "stage unit: build failed with exit code 3")
	e2ekit.NamespaceGone(t, cluster.Client, runner.NamespaceName("real-stages", "stages-1"))

	rep, at := readStagesReport(t, reportPath)
	if rep.Outcome != "failed" || rep.ExitCode != 3 || len(rep.Stages) != 4 {
		t.Fatalf("report: outcome %s, exit code %d, %d stages; want failed, 3, 4: %+v", rep.Outcome, rep.ExitCode, len(rep.Stages), rep)
	}
	want := map[string]string{"lint": "succeeded", "docs": "succeeded", "unit": "failed", "integration": "skipped"}
	for name, outcome := range want {
		i, ok := at[name]
		if !ok || rep.Stages[i].Outcome != outcome {
			t.Errorf("stage %s: %+v, want outcome %s", name, rep.Stages, outcome)
		}
	}
	if st := rep.Stages[at["unit"]]; st.ExitCode == nil || *st.ExitCode != 3 {
		t.Errorf("unit's exit code: %v, want 3", st.ExitCode)
	}
	if st := rep.Stages[at["integration"]]; st.StartedAt != nil || !strings.Contains(st.Error, "needs unit") {
		t.Errorf("integration: started %v, reason %q; want never started because of unit", st.StartedAt, st.Error)
	}
	lint, docs, unit := rep.Stages[at["lint"]], rep.Stages[at["docs"]], rep.Stages[at["unit"]]
	if lint.StartedAt == nil || docs.StartedAt == nil || unit.StartedAt == nil {
		t.Fatalf("stages without a start: %+v", rep.Stages)
	}
	// Side by side: docs does not wait for lint (which sleeps 2 s).
	if d := *docs.StartedAt - *lint.StartedAt; d > 1 || d < -1 {
		t.Errorf("lint started at %.3fs, docs at %.3fs: not side by side", *lint.StartedAt, *docs.StartedAt)
	}
	// After: unit starts only once lint's build ran to its end.
	lintEnd := *lint.StartedAt
	for _, p := range lint.Phases {
		lintEnd += p.Seconds
	}
	if *unit.StartedAt < lintEnd-0.01 {
		t.Errorf("unit started at %.3fs, before lint ended at %.3fs", *unit.StartedAt, lintEnd)
	}

	for _, stage := range []string{"lint", "docs", "unit"} {
		data, err := os.ReadFile(filepath.Join(out, stage, "tmp/reports", stage+".txt"))
		if err != nil || string(data) != stage+"\n" {
			t.Errorf("artifact of %s: %q, %v", stage, data, err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "integration")); err == nil {
		t.Error("artifacts directory for a stage that never ran")
	}

	data, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var suite struct {
		Failures int `xml:"failures,attr"`
		Skipped  int `xml:"skipped,attr"`
		Cases    []struct {
			Name    string    `xml:"name,attr"`
			Failure *struct{} `xml:"failure"`
			Skipped *struct{} `xml:"skipped"`
		} `xml:"testcase"`
	}
	if err := xml.Unmarshal(data, &suite); err != nil {
		t.Fatalf("junit: %v\n%s", err, data)
	}
	cases := map[string]string{}
	for _, c := range suite.Cases {
		switch {
		case c.Failure != nil:
			cases[c.Name] = "failed"
		case c.Skipped != nil:
			cases[c.Name] = "skipped"
		default:
			cases[c.Name] = "passed"
		}
	}
	for name, wantState := range map[string]string{"stage: lint": "passed", "stage: docs": "passed", "stage: unit": "failed", "stage: integration": "skipped", "build": "failed"} {
		if cases[name] != wantState {
			t.Errorf("junit case %q: %q, want %q\n%s", name, cases[name], wantState, data)
		}
	}
	if suite.Failures != 2 || suite.Skipped != 1 {
		t.Errorf("junit: %d failures, %d skipped; want 2, 1", suite.Failures, suite.Skipped)
	}
}

// --stage runs one stage and the stages it needs, nothing else; an
// unknown stage is a usage error that lists the stages.
func TestStageSelection(t *testing.T) {
	dir := service(t, "real-stage-one", stagesCI)
	reportPath := filepath.Join(t.TempDir(), "report.json")
	r := run(t, "run", "--build-id", "stage-docs", "--stage", "docs", "--report", reportPath, dir)
	e2ekit.WantCode(t, r, 0)
	e2ekit.WantContains(t, "stdout", r.Stdout, "[docs] docs ok\n")
	rep, at := readStagesReport(t, reportPath)
	if _, ok := at["docs"]; !ok || len(rep.Stages) != 1 {
		t.Errorf("--stage docs ran %+v, want docs alone", rep.Stages)
	}

	r = run(t, "run", "--build-id", "stage-unit", "--stage", "unit", "--report", reportPath, dir)
	e2ekit.WantCode(t, r, 3)
	rep, at = readStagesReport(t, reportPath)
	_, lint := at["lint"]
	if _, unit := at["unit"]; !lint || !unit || len(rep.Stages) != 2 {
		t.Errorf("--stage unit ran %+v, want lint and unit", rep.Stages)
	}

	r = run(t, "run", "--build-id", "stage-none", "--stage", "deploy", dir)
	e2ekit.WantCode(t, r, 2)
	e2ekit.WantContains(t, "stderr", r.Stderr, "--stage deploy: no such stage (stages: docs, integration, lint, unit)")
}
