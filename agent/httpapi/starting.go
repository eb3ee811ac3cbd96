package httpapi

import "net/http"

// StartingHandler serves a node that listens but whose store is not open
// yet: /health (200), /api/v1/cluster/self (200, so joining peers can turn
// this node's HTTP address into its raft address), and 503 "starting" with
// Retry-After for everything else. The agent swaps in Server.Handler once
// the store is open.
func StartingHandler(nodeID, raftAddr, httpAddr string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "starting", "node_id": nodeID})
	})
	mux.HandleFunc("GET /api/v1/cluster/self", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, selfBody{NodeID: nodeID, RaftAddr: raftAddr, HTTPAddr: httpAddr})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeAPIError(w, newError(http.StatusServiceUnavailable, CodeUnavailable, "node is starting; retry shortly"))
	})
	return mux
}
