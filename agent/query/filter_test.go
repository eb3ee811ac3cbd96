package query

import (
	"strings"
	"testing"
)

const testDoc = `{
	"name": "ada",
	"age": 36,
	"score": 9007199254740993,
	"ratio": 0.5,
	"nick": null,
	"active": true,
	"tags": ["math", "poetry", 7],
	"address": {"city": "London", "zip": "NW1"},
	"jobs": [{"title": "analyst", "years": 3}, {"title": "writer", "years": [1, 10]}],
	"matrix": [[1, 2], [3, 4]],
	"empty": [],
	"obj": {"a": 1, "b": [1, 2]}
}`

func TestMatch(t *testing.T) {
	doc := mustJSON(t, testDoc).(map[string]any)
	tests := []struct {
		filter string
		want   bool
	}{
		{``, true},
		{`null`, true},
		{`{}`, true},
		// implicit equality and AND
		{`{"name":"ada"}`, true},
		{`{"name":"bob"}`, false},
		{`{"name":"ada","age":36}`, true},
		{`{"name":"ada","age":37}`, false},
		{`{"age":36.0}`, true},
		{`{"age":3.6e1}`, true},
		{`{"age":"36"}`, false},
		{`{"score":9007199254740993}`, true},
		{`{"score":9007199254740992}`, false},
		{`{"active":true}`, true},
		{`{"active":1}`, false},
		// $eq / $ne
		{`{"age":{"$eq":36}}`, true},
		{`{"age":{"$ne":36}}`, false},
		{`{"age":{"$ne":35}}`, true},
		{`{"missing":{"$ne":1}}`, true},
		// ranges: numbers numerically, only the bound's type class
		{`{"age":{"$gt":35}}`, true},
		{`{"age":{"$gt":36}}`, false},
		{`{"age":{"$gte":36}}`, true},
		{`{"age":{"$lt":36.5}}`, true},
		{`{"age":{"$lte":35.999}}`, false},
		{`{"age":{"$gt":35,"$lt":37}}`, true},
		{`{"age":{"$gt":"a"}}`, false},
		{`{"age":{"$lt":"a"}}`, false},
		{`{"name":{"$gt":"a","$lt":"b"}}`, true},
		{`{"name":{"$gte":"ada"}}`, true},
		{`{"name":{"$gt":"ada"}}`, false},
		{`{"name":{"$lt":5}}`, false},
		{`{"score":{"$gt":9007199254740992}}`, true},
		{`{"ratio":{"$lt":1,"$gt":0}}`, true},
		{`{"active":{"$gt":false}}`, true},
		{`{"address":{"$gt":{"city":"A"}}}`, true},
		{`{"tags":{"$gt":["m"]}}`, true},
		{`{"missing":{"$gt":0}}`, false},
		// $in / $nin
		{`{"age":{"$in":[1,36]}}`, true},
		{`{"age":{"$in":[]}}`, false},
		{`{"age":{"$in":["36"]}}`, false},
		{`{"age":{"$nin":[1,2]}}`, true},
		{`{"age":{"$nin":[36]}}`, false},
		{`{"tags":{"$in":["poetry","x"]}}`, true},
		{`{"tags":{"$nin":["poetry"]}}`, false},
		{`{"tags":{"$nin":["x","y"]}}`, true},
		{`{"missing":{"$in":[null]}}`, true},
		{`{"missing":{"$nin":[null]}}`, false},
		// $exists
		{`{"age":{"$exists":true}}`, true},
		{`{"age":{"$exists":false}}`, false},
		{`{"nick":{"$exists":true}}`, true},
		{`{"missing":{"$exists":false}}`, true},
		{`{"missing":{"$exists":1}}`, false},
		{`{"missing":{"$exists":0}}`, true},
		{`{"jobs.title":{"$exists":true}}`, true},
		// null matches null and missing
		{`{"nick":null}`, true},
		{`{"missing":null}`, true},
		{`{"age":null}`, false},
		{`{"nick":{"$ne":null}}`, false},
		{`{"age":{"$ne":null}}`, true},
		{`{"nick":{"$gte":null}}`, true},
		{`{"missing":{"$lte":null}}`, true},
		{`{"nick":{"$gt":null}}`, false},
		// $not
		{`{"age":{"$not":{"$gt":5}}}`, false},
		{`{"age":{"$not":{"$gt":50}}}`, true},
		{`{"missing":{"$not":{"$gt":5}}}`, true},
		{`{"age":{"$not":{"$gt":30,"$lt":40}}}`, false},
		{`{"age":{"$not":{"$gt":30,"$lt":35}}}`, true},
		{`{"age":{"$not":{"$not":{"$eq":36}}}}`, true},
		// $and / $or / $nor
		{`{"$and":[{"name":"ada"},{"age":36}]}`, true},
		{`{"$and":[{"name":"ada"},{"age":1}]}`, false},
		{`{"$or":[{"name":"bob"},{"age":36}]}`, true},
		{`{"$or":[{"name":"bob"},{"age":1}]}`, false},
		{`{"$nor":[{"name":"bob"},{"age":1}]}`, true},
		{`{"$nor":[{"name":"ada"}]}`, false},
		{`{"$or":[{"$and":[{"age":{"$gt":30}},{"tags":"math"}]},{"name":"x"}],"active":true}`, true},
		// dot paths
		{`{"address.city":"London"}`, true},
		{`{"address.city":"Paris"}`, false},
		{`{"address.country":null}`, true},
		{`{"address":{"city":"London","zip":"NW1"}}`, true},
		{`{"address":{"zip":"NW1","city":"London"}}`, true},
		{`{"address":{"city":"London"}}`, false},
		{`{"address.city.x":"London"}`, false},
		{`{"name.x":{"$exists":true}}`, false},
		// arrays: element match, whole-array match, index paths
		{`{"tags":"math"}`, true},
		{`{"tags":7}`, true},
		{`{"tags":"art"}`, false},
		{`{"tags":["math","poetry",7]}`, true},
		{`{"tags":["math","poetry"]}`, false},
		{`{"tags.0":"math"}`, true},
		{`{"tags.1":"math"}`, false},
		{`{"tags.2":{"$gte":7}}`, true},
		{`{"tags.3":{"$exists":true}}`, false},
		{`{"tags":{"$gt":6,"$lt":8}}`, true},
		{`{"jobs.title":"writer"}`, true},
		{`{"jobs.title":"boss"}`, false},
		{`{"jobs.years":10}`, true},
		{`{"jobs.years":{"$gt":5}}`, true},
		{`{"jobs.years":{"$gt":50}}`, false},
		{`{"jobs.0.title":"analyst"}`, true},
		{`{"jobs.1.title":"analyst"}`, false},
		{`{"jobs.1.years.1":10}`, true},
		{`{"jobs":{"title":"analyst","years":3}}`, true},
		{`{"matrix":[3,4]}`, true},
		{`{"matrix":3}`, false},
		{`{"matrix.1.0":3}`, true},
		{`{"matrix.0":[1,2]}`, true},
		{`{"empty":[]}`, true},
		{`{"empty":{"$exists":true}}`, true},
		{`{"obj.b":2}`, true},
		{`{"obj.b":{"$ne":3}}`, true},
		{`{"obj.b":{"$ne":2}}`, false},
		// multikey: different elements may satisfy each bound (MongoDB semantics)
		{`{"jobs.years":{"$gt":5,"$lt":2}}`, true},
		{`{"tags":{"$gt":100,"$lt":0}}`, false},
	}
	for _, tt := range tests {
		f, err := Parse([]byte(tt.filter))
		if err != nil {
			t.Errorf("Parse(%s): %v", tt.filter, err)
			continue
		}
		if got := f.Match(doc); got != tt.want {
			t.Errorf("Parse(%s).Match(testDoc) = %v, want %v", tt.filter, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		filter string
		want   string // substring of the error
	}{
		{`[1]`, "must be a JSON object"},
		{`"x"`, "must be a JSON object"},
		{`{"a":`, "not valid JSON"},
		{`{"a":1} {}`, "not valid JSON"},
		{`{"$not":{"a":1}}`, `"$not" is not allowed at the top level`},
		{`{"$where":"1"}`, `unknown top-level operator "$where"`},
		{`{"$gt":1}`, `operator "$gt" needs a field`},
		{`{"a":{"$foo":1}}`, `unknown operator "$foo" at "a"`},
		{`{"a.b":{"$regex":"x"}}`, `unknown operator "$regex" at "a.b"`},
		{`{"a":{"$not":{"$bar":1}}}`, `unknown operator "$bar" at "a"`},
		{`{"a":{"$and":[]}}`, `unknown operator "$and" at "a"`},
		{`{"a":{"$gt":1,"b":2}}`, `cannot mix operators and literal fields ("b")`},
		{`{"a":{"$in":5}}`, `"$in" at "a" needs an array`},
		{`{"a":{"$nin":{}}}`, `"$nin" at "a" needs an array`},
		{`{"a":{"$exists":"yes"}}`, `"$exists" at "a" needs true or false`},
		{`{"a":{"$not":5}}`, `"$not" at "a" needs an operator object`},
		{`{"a":{"$not":{}}}`, `"$not" at "a" needs an operator object`},
		{`{"a":{"$not":{"b":1}}}`, `"$not" at "a" needs an operator object`},
		{`{"$and":{}}`, `"$and" needs an array`},
		{`{"$or":[]}`, `"$or" needs a non-empty array`},
		{`{"$nor":[1]}`, `"$nor" element 0 must be a filter object`},
		{`{"$or":[{"a":{"$bad":1}}]}`, `unknown operator "$bad" at "a"`},
		{`{"":1}`, "empty field path"},
		{`{"a..b":1}`, `"a..b" has an empty segment`},
		{`{"a.$b":1}`, "segment starting with '$'"},
		{`{"a\u0001":1}`, "control character"},
		{`{"` + strings.Repeat("x", 300) + `":1}`, "more than 256"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.filter))
		if err == nil {
			t.Errorf("Parse(%s) succeeded, want error containing %q", tt.filter, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%s) error = %q, want it to contain %q", tt.filter, err, tt.want)
		}
	}
}

func TestNilFilterMatchesAll(t *testing.T) {
	var f *Filter
	if !f.Match(map[string]any{"a": 1}) {
		t.Error("(*Filter)(nil).Match = false, want true")
	}
	if got := f.IndexablePredicates(); got != nil {
		t.Errorf("(*Filter)(nil).IndexablePredicates() = %v, want nil", got)
	}
}
