package cloudsim

import "encoding/xml"

// The XML shapes of EC2's answers (element names as the EC2 API and its
// SDKs use them). Top-level types marshal as <r>…</r>, whose content
// writeEC2 wraps in the action's response element.

type runInstancesXML struct {
	XMLName       xml.Name      `xml:"r"`
	ReservationID string        `xml:"reservationId"`
	OwnerID       string        `xml:"ownerId"`
	Instances     []instanceXML `xml:"instancesSet>item"`
}

type describeInstancesXML struct {
	XMLName      xml.Name         `xml:"r"`
	Reservations []reservationXML `xml:"reservationSet>item"`
	NextToken    string           `xml:"nextToken,omitempty"`
}

type reservationXML struct {
	ReservationID string        `xml:"reservationId"`
	OwnerID       string        `xml:"ownerId"`
	Instances     []instanceXML `xml:"instancesSet>item"`
}

type instanceXML struct {
	InstanceID   string               `xml:"instanceId"`
	ImageID      string               `xml:"imageId"`
	State        instanceStateXML     `xml:"instanceState"`
	StateReason  *stateReasonXML      `xml:"stateReason,omitempty"`
	PrivateIP    string               `xml:"privateIpAddress,omitempty"`
	PublicIP     string               `xml:"ipAddress,omitempty"`
	InstanceType string               `xml:"instanceType"`
	LaunchTime   string               `xml:"launchTime"`
	Placement    placementXML         `xml:"placement"`
	ClientToken  string               `xml:"clientToken,omitempty"`
	Groups       []groupIdentifierXML `xml:"groupSet>item"`
	Tags         []tagXML             `xml:"tagSet>item"`
}

type instanceStateXML struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

type stateReasonXML struct {
	Code    string `xml:"code"`
	Message string `xml:"message"`
}

type placementXML struct {
	AvailabilityZone string `xml:"availabilityZone"`
}

type groupIdentifierXML struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName"`
}

type tagXML struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type terminateXML struct {
	XMLName xml.Name         `xml:"r"`
	Items   []stateChangeXML `xml:"instancesSet>item"`
}

type stateChangeXML struct {
	InstanceID string           `xml:"instanceId"`
	Current    instanceStateXML `xml:"currentState"`
	Previous   instanceStateXML `xml:"previousState"`
}

type createGroupXML struct {
	XMLName xml.Name `xml:"r"`
	GroupID string   `xml:"groupId"`
	Tags    []tagXML `xml:"tagSet>item"`
}

type describeGroupsXML struct {
	XMLName   xml.Name           `xml:"r"`
	Groups    []securityGroupXML `xml:"securityGroupInfo>item"`
	NextToken string             `xml:"nextToken,omitempty"`
}

type securityGroupXML struct {
	OwnerID     string          `xml:"ownerId"`
	GroupID     string          `xml:"groupId"`
	GroupName   string          `xml:"groupName"`
	Description string          `xml:"groupDescription"`
	VpcID       string          `xml:"vpcId,omitempty"`
	Ingress     []permissionXML `xml:"ipPermissions>item"`
	Tags        []tagXML        `xml:"tagSet>item"`
}

type permissionXML struct {
	Protocol string         `xml:"ipProtocol"`
	FromPort int            `xml:"fromPort"`
	ToPort   int            `xml:"toPort"`
	Groups   []groupPairXML `xml:"groups>item"`
	Ranges   []ipRangeXML   `xml:"ipRanges>item"`
}

type groupPairXML struct {
	UserID  string `xml:"userId"`
	GroupID string `xml:"groupId"`
}

type ipRangeXML struct {
	CidrIP      string `xml:"cidrIp"`
	Description string `xml:"description,omitempty"`
}

type returnXML struct {
	XMLName xml.Name `xml:"r"`
	Return  bool     `xml:"return"`
	GroupID string   `xml:"groupId,omitempty"`
}
