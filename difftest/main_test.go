package difftest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"envgen.dev/envgen/internal/testcluster"
)

// cluster is the control plane the objects are sent to; nil in -short
// mode, where only the kustomize half of the test runs.
var cluster *testcluster.Cluster

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run()
	}
	start := time.Now()
	var err error
	cluster, err = testcluster.Start(context.Background(), testcluster.Options{Kwok: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the test cluster:", err)
		return 1
	}
	defer cluster.Stop()
	fmt.Fprintf(os.Stderr, "difftest: control plane ready in %s\n", time.Since(start).Round(10*time.Millisecond))
	return m.Run()
}
