package runner

import (
	"encoding/xml"
	"fmt"
	"strings"
)

// JUnit is the run as a JUnit XML report, for Jenkins' junit step: one
// test case per phase (their durations), one per stage of a staged build
// (failed with its reason, or skipped), and one for the build itself that
// fails with the reason when the run did not succeed.
func (r *Report) JUnit() ([]byte, error) {
	type failure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
	type skipped struct {
		Message string `xml:"message,attr"`
	}
	type testCase struct {
		Name      string   `xml:"name,attr"`
		ClassName string   `xml:"classname,attr"`
		Time      string   `xml:"time,attr"`
		Failure   *failure `xml:"failure,omitempty"`
		Skipped   *skipped `xml:"skipped,omitempty"`
	}
	type property struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	}
	type testSuite struct {
		XMLName    xml.Name   `xml:"testsuite"`
		Name       string     `xml:"name,attr"`
		Tests      int        `xml:"tests,attr"`
		Failures   int        `xml:"failures,attr"`
		Skipped    int        `xml:"skipped,attr"`
		Time       string     `xml:"time,attr"`
		Timestamp  string     `xml:"timestamp,attr"`
		Properties []property `xml:"properties>property,omitempty"`
		Cases      []testCase `xml:"testcase"`
	}
	seconds := func(s float64) string { return fmt.Sprintf("%.3f", s) }
	class := "envgen." + r.Service
	suite := testSuite{Name: "envgen run " + r.Service + " " + r.BuildID, Time: seconds(r.TotalSeconds), Timestamp: r.Started.Format("2006-01-02T15:04:05")}
	// What ran, for whoever promotes the image later: the commit, the
	// image built, and what each container ran.
	if r.Commit != "" {
		suite.Properties = append(suite.Properties, property{"commit", r.Commit})
	}
	if r.Image != nil {
		suite.Properties = append(suite.Properties, property{"image", imageRepository(r.Image.Image) + "@" + r.Image.Digest})
	}
	for _, c := range r.Containers {
		suite.Properties = append(suite.Properties, property{"ran " + c.Pod + "/" + c.Container, c.ImageID})
	}
	for _, p := range r.Phases {
		suite.Cases = append(suite.Cases, testCase{Name: "phase: " + p.Name, ClassName: class + ".phases", Time: seconds(p.Seconds)})
	}
	for _, st := range r.Stages {
		c := testCase{Name: "stage: " + st.Name, ClassName: class + ".stages", Time: seconds(st.BuildSeconds)}
		switch st.Outcome {
		case "succeeded":
		case "skipped":
			c.Skipped = &skipped{Message: st.Error}
			suite.Skipped++
		default:
			text := "outcome " + st.Outcome
			if st.ExitCode != nil {
				text += fmt.Sprintf(", exit code %d", *st.ExitCode)
			}
			c.Failure = &failure{Message: st.Error, Type: st.Outcome, Text: text + "\n" + st.Error}
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, c)
	}
	build := testCase{Name: "build", ClassName: class, Time: seconds(r.BuildSeconds)}
	if r.Outcome != "succeeded" {
		build.Failure = &failure{
			Message: r.Error,
			Type:    r.Outcome,
			Text:    strings.TrimSpace(fmt.Sprintf("outcome %s, exit code %d\nnamespace %s\n%s", r.Outcome, r.ExitCode, r.Namespace, r.Error)),
		}
		suite.Failures++
	}
	suite.Cases = append(suite.Cases, build)
	suite.Tests = len(suite.Cases)
	out, err := xml.MarshalIndent(suite, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}
