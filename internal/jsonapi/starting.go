package jsonapi

import "net/http"

// StartingBody is the answer of GET /api/v1/cluster/self: the node's id and
// the addresses it advertises, so a joining peer can turn this node's HTTP
// address into its raft address.
type StartingBody struct {
	NodeID   string `json:"node_id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
}

// StartingHandler serves a node (agent or billing replica) that listens but
// whose store is not open yet: /health (200), /api/v1/cluster/self (200),
// and 503 "starting" with Retry-After for everything else. The daemon
// swaps in its API's handler once the store is open.
func StartingHandler(nodeID, raftAddr, httpAddr string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "starting", "node_id": nodeID})
	})
	mux.HandleFunc("GET /api/v1/cluster/self", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, StartingBody{NodeID: nodeID, RaftAddr: raftAddr, HTTPAddr: httpAddr})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		ErrorWriter{}.Write(w, http.StatusServiceUnavailable, CodeUnavailable, "node is starting; retry shortly")
	})
	return mux
}
