package cloudsim

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const fuzzAuth = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261206/eu-west-1/ec2/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" +
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// FuzzEC2Request sends arbitrary form bodies through the EC2 front end:
// it never panics, every answer is well-formed XML (a response or EC2's
// error document), and a failed request changes nothing.
func FuzzEC2Request(f *testing.F) {
	seeds := []string{
		"Action=RunInstances&Version=2016-11-15&ImageId=ami-0abcdef1234567890&InstanceType=t3.medium&MinCount=1&MaxCount=1&ClientToken=x&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=k&TagSpecification.1.Tag.1.Value=v",
		"Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag:aerolith-cluster&Filter.1.Value.1=shop&MaxResults=5&NextToken=p1",
		"Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-x&InstanceId.3=i-y",
		"Action=TerminateInstances&Version=2016-11-15&InstanceId.1=i-0",
		"Action=CreateSecurityGroup&Version=2016-11-15&GroupName=g&GroupDescription=d",
		"Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GroupId=sg-1&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=1&IpPermissions.1.ToPort=0",
		"Action=CreateTags&Version=2016-11-15&ResourceId.1=i-1&Tag.1.Key=aws:x",
		"Action=RunInstances&Version=2016-11-15&UserData=%%%",
		"%zz",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		sim, err := New(Config{PendingFor: 1 << 62})
		if err != nil {
			t.Fatal(err)
		}
		defer sim.Close()
		// A group to refer to, so that paths past the existence checks run.
		sim.groups["sg-1"] = &SecurityGroup{ID: "sg-1", Name: "g1", Region: "eu-west-1", Tags: map[string]string{}}
		before := len(sim.Instances())
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", fuzzAuth)
		req.Header.Set("X-Amz-Date", "20261206T120000Z")
		w := httptest.NewRecorder()
		sim.ServeHTTP(w, req)
		var doc struct{ XMLName xml.Name }
		if err := xml.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatalf("answer to %q is not XML: %v\n%s", body, err, w.Body.String())
		}
		if w.Code != http.StatusOK {
			if doc.XMLName.Local != "Response" {
				t.Fatalf("error answer to %q has root %q, want Response", body, doc.XMLName.Local)
			}
			if len(sim.Instances()) != before {
				t.Fatalf("failed request %q launched an instance", body)
			}
		} else if !strings.HasSuffix(doc.XMLName.Local, "Response") {
			t.Fatalf("answer to %q has root %q", body, doc.XMLName.Local)
		}
	})
}
