package cloudsim

import (
	"strings"
	"time"
)

// gceOp is a long-running GCE operation. Its status is PENDING for a
// moment, RUNNING until its work is done (an instance insert: until the
// instance runs or its launch fails; a delete: until the instance is
// gone), then DONE, with an error when the work failed.
type gceOp struct {
	ID, Name      string
	Project, Zone string // Zone "" for a global operation
	Type          string // insert, delete, patch
	TargetLink    string
	TargetID      string
	Inserted      time.Time
	// done reports whether the work is finished and how it failed (nil:
	// it did not); called under Server.mu.
	done    func() (bool, *gceOpError)
	status  string
	started time.Time
	ended   time.Time
	err     *gceOpError
}

// gceOpError is a failed operation's error.
type gceOpError struct {
	Code, Message string
	HTTPStatus    int
	HTTPMessage   string
}

// gceStep is how long an operation stays PENDING.
func (s *Server) gceStep() time.Duration { return s.cfg.PendingFor / 3 }

// newGCEOp records an operation on target.
func (s *Server) newGCEOp(project, zone, typ, targetLink, targetID string, done func() (bool, *gceOpError)) *gceOp {
	now := s.cfg.Now()
	op := &gceOp{
		ID: gceID(), Project: project, Zone: zone, Type: typ, TargetLink: targetLink, TargetID: targetID,
		Inserted: now, done: done, status: "PENDING",
	}
	op.Name = "operation-" + now.Format("20060102150405") + "-" + newID("")[:13] + "-" + newID("")[:8]
	s.gce.ops[op.Project+"/"+op.Zone+"/"+op.Name] = op
	return op
}

// advanceOp moves op along as time passes.
func (s *Server) advanceOp(op *gceOp) {
	now := s.cfg.Now()
	if op.status == "PENDING" && now.Sub(op.Inserted) >= s.gceStep() {
		op.status, op.started = "RUNNING", now
	}
	if op.status == "RUNNING" {
		if ok, err := op.done(); ok {
			op.status, op.ended, op.err = "DONE", now, err
		}
	}
}

// gceAdvanceLocked moves GCE's own lifecycles on: a deleted instance
// leaves the table once its shutdown is over, and operations progress.
func (s *Server) gceAdvanceLocked() {
	now := s.cfg.Now()
	for id, m := range s.gce.meta {
		in, ok := s.instances[id]
		if !ok {
			delete(s.gce.meta, id)
			continue
		}
		if m.deleting && in.State == "terminated" && now.Sub(in.TerminatedAt) >= s.cfg.PendingFor/2 {
			delete(s.instances, id)
			delete(s.gce.meta, id)
		}
	}
	for _, op := range s.gce.ops {
		if op.status != "DONE" {
			s.advanceOp(op)
		}
	}
}

// gceOpJSON renders op as computepb.Operation's JSON.
func (s *Server) gceOpJSON(op *gceOp) map[string]any {
	out := map[string]any{
		"kind": "compute#operation", "id": op.ID, "name": op.Name, "operationType": op.Type,
		"targetLink": op.TargetLink, "status": op.status, "user": "aerolith@" + op.Project + ".iam.gserviceaccount.com",
		"insertTime": gceTime(op.Inserted), "progress": 0,
	}
	if op.TargetID != "" {
		out["targetId"] = op.TargetID
	}
	if op.Zone != "" {
		out["zone"] = gceBase + "projects/" + op.Project + "/zones/" + op.Zone
		out["selfLink"] = gceSelfLink(op.Project, op.Zone, "operations", op.Name)
	} else {
		out["selfLink"] = gceSelfLink(op.Project, "", "operations", op.Name)
	}
	if !op.started.IsZero() {
		out["startTime"] = gceTime(op.started)
	}
	if op.status == "DONE" {
		out["progress"] = 100
		out["endTime"] = gceTime(op.ended)
		if op.err != nil {
			out["error"] = map[string]any{"errors": []map[string]string{{"code": op.err.Code, "message": op.err.Message}}}
			out["httpErrorStatusCode"] = op.err.HTTPStatus
			out["httpErrorMessage"] = op.err.HTTPMessage
		}
	}
	return out
}

func (s *Server) gceGetOperation(route gceRoute, _ map[string][]string, _ []byte) (any, []func(), *gceErr) {
	op, ok := s.gce.ops[route.project+"/"+route.zone+"/"+route.name]
	if !ok {
		where := "global"
		if route.zone != "" {
			where = "zones/" + route.zone
		}
		return nil, nil, gceNotFound("projects/" + route.project + "/" + where + "/operations/" + clip(route.name))
	}
	return s.gceOpJSON(op), nil, nil
}

// GCEOperation is a snapshot of one operation (tests).
type GCEOperation struct {
	Name, Type, Status, TargetLink string
	// Error is the failed operation's error code, "" otherwise.
	Error string
}

// GCEOperations returns a snapshot of every GCE operation.
func (s *Server) GCEOperations() []GCEOperation {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gce.init()
	s.advanceLocked()
	s.gceAdvanceLocked()
	var out []GCEOperation
	for _, op := range s.gce.ops {
		o := GCEOperation{Name: op.Name, Type: op.Type, Status: op.status, TargetLink: op.TargetLink}
		if op.err != nil {
			o.Error = op.err.Code
		}
		out = append(out, o)
	}
	return out
}

// zoneRegion is the region of a GCE zone (europe-west1-b → europe-west1).
func zoneRegion(zone string) string {
	if i := strings.LastIndexByte(zone, '-'); i > 0 {
		return zone[:i]
	}
	return zone
}
