package crm

import (
	"bytes"
	"encoding/xml"
)

const soapAck = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
 <soapenv:Body>
  <notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">
   <Ack>true</Ack>
  </notificationsResponse>
 </soapenv:Body>
</soapenv:Envelope>
`

// SOAPAck is the only answer Salesforce counts as acknowledged: a
// notificationsResponse with <Ack>true</Ack>. It acknowledges every
// notification of the message; anything else makes Salesforce redeliver.
func SOAPAck() []byte { return []byte(soapAck) }

// SOAPFault is a SOAP 1.1 Fault envelope, shown in Salesforce's outbound
// message delivery monitor. faultCode is "soapenv:Client" or "soapenv:Server".
func SOAPFault(faultCode, msg string) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
 <soapenv:Body>
  <soapenv:Fault>
   <faultcode>`)
	_ = xml.EscapeText(&b, []byte(faultCode))
	b.WriteString(`</faultcode>
   <faultstring>`)
	_ = xml.EscapeText(&b, []byte(msg))
	b.WriteString(`</faultstring>
  </soapenv:Fault>
 </soapenv:Body>
</soapenv:Envelope>
`)
	return b.Bytes()
}
