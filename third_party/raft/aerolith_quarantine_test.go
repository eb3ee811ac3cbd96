package raft

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// quarantined lists the upstream tests that `make test` skips, each with
// the reason: every upstream test that failed here in a run of the whole
// suite, on the patched code or on pristine hashicorp/raft v1.7.3. The
// project's CI machine has 2 cores, runs as root, and runs these tests
// under -race beside other jobs (load averages of 5 to 21 while this list
// was drawn up); all but TestFileSS_BadPerm and the pipeline test fail on
// timing. PATCHES.md has the runs and which ones also failed on v1.7.3.
// Run them anyway with AEROLITH_RAFT_QUARANTINE=off.
var quarantined = map[string]string{
	"TestFileSS_BadPerm": "expects creating a snapshot store in a 0000 directory to fail; " +
		"root (the CI user) is not refused, so it fails on every run",
	"TestNetworkTransport_AppendEntriesPipeline_CloseStreams": "expects one of 100 pipelined " +
		"AppendEntries to fail after the streams are closed, but all of them may finish first",
	"TestRaft_HasExistingState": "EnsureSamePeers gives a follower 5 s to hold the new " +
		"configuration; under load it sometimes does not (\"peer mismatch\", upstream 5 of 50 runs alone)",
	"TestRaft_LeadershipTransferLeaderReplicationTimeout": "fishes for a transfer timeout with a " +
		"1 ns election timeout; under load the transfer fails another way first",
	"TestRaft_SnapshotRestore_PeerChange": "counts the leader's no-op entries after a fixed " +
		"sleep; an extra election under load adds one, or none has finished (\"bad last: " +
		"102\", upstream 6 of 30 runs alone)",
	"TestRaft_LeadershipTransferWithSevenNodes": "a 7-node transfer must finish within one " +
		"50 ms election timeout (\"leadership transfer timeout\")",

	// c.Leader() and friends give up after a fixed wait, or the test
	// sleeps a few 50 ms heartbeat timeouts and then asserts a leader,
	// while an election (a missed heartbeat under load) is still running:
	// "expected one leader: []", "timeout waiting for 2 followers".
	"TestRaft_AppendEntry":                                   noLeaderYet,
	"TestRaft_VotingGrant_WhenLeaderAvailable":               noLeaderYet,
	"TestRaft_ReJoinFollower":                                noLeaderYet,
	"TestRaft_Barrier":                                       noLeaderYet,
	"TestRaft_LeaderLeaseExpire":                             noLeaderYet,
	"TestRaft_LeadershipTransfer":                            noLeaderYet,
	"TestRaft_LeadershipTransferLeaderRejectsClientRequests": noLeaderYet,
	"TestRaft_LeadershipTransferToBehindServer":              noLeaderYet,
	"TestRaft_LeadershipTransferToInvalidAddress":            noLeaderYet,
	"TestRaft_LeadershipTransferToInvalidID":                 noLeaderYet,
	"TestRaft_LeadershipTransferWithWrites":                  noLeaderYet,
	"TestRaft_LogStoreIsMonotonic":                           noLeaderYet,
	"TestRaft_PreVoteAvoidElectionWithPartition":             noLeaderYet,
	"TestRaft_PreVoteMixedCluster":                           noLeaderYet,
	"TestRaft_ProtocolVersion_RejectRPC":                     noLeaderYet,
	"TestRaft_ProtocolVersion_Upgrade_1_2":                   noLeaderYet,
	"TestRaft_ProtocolVersion_Upgrade_2_3":                   noLeaderYet,
	"TestRaft_VerifyLeader_Fail":                             noLeaderYet,

	// The test holds on to one leader for its whole run; with 50 ms
	// heartbeat, election and lease timeouts a scheduling stall elects
	// another: "node is not the leader", "leadership lost while
	// committing log", "at least one peer has the wrong notion of leader".
	"TestRaft_CacheLogWithStoreError":                                   leaderChanged,
	"TestRaft_ClusterCanRegainStability_WhenNonVoterWithHigherTermJoin": leaderChanged,
	"TestRaft_LeaderID_Propagated":                                      leaderChanged,
	"TestRaft_SendSnapshotAndLogsFollower":                              leaderChanged,
	"TestRaft_SendSnapshotFollower":                                     leaderChanged,
	"TestRaft_UserRestore":                                              leaderChanged,
	"TestRaft_FollowerRemovalNoElection":                                leaderChanged,

	// Failed only at load averages above 10, on the patched code, with
	// the messages above (or, for runFollower_State_Transition, a follower
	// loop that had not run within its 150 ms sleep); they passed in every
	// other run of the whole suite, on both codes. On a machine that is not
	// shared they may well pass: candidates to take off this list.
	"TestRaft_GetConfigurationNoBootstrap":         loadOnly,
	"TestRaft_LiveBootstrap":                       loadOnly,
	"TestRaft_RecoverCluster":                      loadOnly,
	"TestRaft_UserSnapshot":                        loadOnly,
	"TestRaft_runFollower_State_Transition":        loadOnly,
	"TestRaft_RemoveFollower":                      loadOnly,
	"TestRaft_RemoveLeader":                        loadOnly,
	"TestRaft_RemoveLeader_NoShutdown":             loadOnly,
	"TestRaft_AddKnownPeer":                        loadOnly,
	"TestRaft_VerifyLeader":                        loadOnly,
	"TestRaft_VerifyLeader_Single":                 loadOnly,
	"TestRaft_LeadershipTransferIgnoresNonvoters":  loadOnly,
	"TestRaft_VoteNotGranted_WhenNodeNotInCluster": loadOnly,
	"TestRaft_PreVote_ShouldRejectNonLeader":       loadOnly,
}

const (
	loadOnly = "times elections or replication with 50 ms timeouts and fixed sleeps; failed " +
		"here only under heavy load (see PATCHES.md)"
	noLeaderYet = "asserts a leader (or its followers) after a fixed wait of a few 50 ms " +
		"heartbeat timeouts; under load an election is still running (\"expected one " +
		"leader: []\", \"timeout waiting for 2 followers\")"
	leaderChanged = "assumes one leader for its whole run; with 50 ms timeouts a scheduling " +
		"stall under load elects another (\"node is not the leader\", \"leadership lost\", " +
		"\"wrong notion of leader\")"
)

const quarantineEnv = "AEROLITH_RAFT_QUARANTINE"

// TestMain skips the quarantined tests by adding them to -test.skip.
func TestMain(m *testing.M) {
	flag.Parse()
	if os.Getenv(quarantineEnv) != "off" {
		var names []string
		for name := range quarantined {
			names = append(names, name)
		}
		sort.Strings(names)
		skip := "^(" + strings.Join(names, "|") + ")$"
		if cur := flag.Lookup("test.skip").Value.String(); cur != "" {
			skip = cur + "|" + skip
		}
		if err := flag.Set("test.skip", skip); err != nil {
			fmt.Fprintln(os.Stderr, "quarantine:", err)
			os.Exit(2)
		}
		if testing.Verbose() {
			for _, name := range names {
				fmt.Printf("quarantined %s: %s\n", name, quarantined[name])
			}
		}
	}
	os.Exit(m.Run())
}

// TestQuarantineNamesExist: an entry whose test was renamed or removed
// upstream would quietly quarantine nothing; every entry names a test
// function of this package.
func TestQuarantineNamesExist(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Test") {
				tests[fn.Name.Name] = true
			}
		}
	}
	for name, reason := range quarantined {
		if !tests[name] {
			t.Errorf("quarantined %s (%s) is not a test in this package", name, reason)
		}
		if reason == "" {
			t.Errorf("quarantined %s has no reason", name)
		}
	}
}
