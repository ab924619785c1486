package samples

import "strings"

// Salesforce signs nothing: a test builds outbound messages of its own
// instead, in the shape of the outbound messaging WSDL
// (https://developer.salesforce.com/docs/platform/api/guide/sforce-api-om-outboundmessaging-wsdl.html),
// with the namespace prefixes Salesforce uses, which the adapter must not
// rely on.

// SalesforceBody is an outbound message from org holding notes, the
// <Notification> elements (see SalesforceLead and SalesforceContact; a
// test may pass hand-written ones).
func SalesforceBody(org string, notes ...string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<e:Body><o:notifications xmlns:o="http://soap.sforce.com/2005/09/outbound">
<o:OrganizationId>` + org + `</o:OrganizationId><o:ActionId>04k5g000000AbCdAAK</o:ActionId>
<o:SessionId xsi:nil="true"/>` + strings.Join(notes, "\n") + `</o:notifications></e:Body></e:Envelope>`)
}

// SalesforceLead is a Lead notification id for record recordID with Phone
// phone ("" sends a nil Phone), nil MobilePhone, owned by the owner of
// SalesforceOutboundLead (routed to agent 1001 by AgentRoutes).
func SalesforceLead(id, recordID, phone string) string {
	return salesforceNote("Lead", id, recordID, phone, `<sf:OwnerId>0055g00000Ab1CdAAJ</sf:OwnerId>`)
}

// SalesforceContact is a Contact notification id for record recordID with
// Phone phone ("" sends a nil Phone), nil MobilePhone and no owner.
func SalesforceContact(id, recordID, phone string) string {
	return salesforceNote("Contact", id, recordID, phone, "")
}

func salesforceNote(objectType, id, recordID, phone, extra string) string {
	ph := `<sf:Phone xsi:nil="true"/>`
	if phone != "" {
		ph = `<sf:Phone>` + phone + `</sf:Phone>`
	}
	return `<o:Notification><o:Id>` + id + `</o:Id><o:sObject xsi:type="sf:` + objectType + `" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">` +
		`<sf:Id>` + recordID + `</sf:Id>` + ph + `<sf:MobilePhone xsi:nil="true"/>` + extra + `</o:sObject></o:Notification>`
}
