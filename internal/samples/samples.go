// Package samples is the sender side of dialhook's tests: the webhook bodies
// each CRM sends (embedded, so no test reads another package's testdata),
// the credentials the test sources are configured with, the agent routes
// that take the samples' owners, and the signers that sign a request as
// each CRM does.
//
// It is for tests and the load harness (bench) only: no package of the
// service imports it (the import-boundary test checks this). The signers
// are written from the vendors' documentation, apart from the adapters in
// crm, and must stay so: a test that signed with the adapter's own code
// would pass whatever that code computed. This package imports nothing of
// dialhook, so that any package's tests (crm's and mapping's own included)
// can use it without an import cycle.
package samples

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
)

// The sample bodies, as the CRMs send them (see each file's origin in
// /work/shared/crm/CRM-WEBHOOKS.md and the tests that use it).
const (
	// SalesforceOutboundLead is an outbound message with one Lead
	// notification, from organization SalesforceOrgID.
	SalesforceOutboundLead = "salesforce-outbound-lead.xml"
	// HubSpotWorkflowContact is a workflow "send a webhook" contact body.
	HubSpotWorkflowContact = "hubspot-workflow-contact.json"
	// HubSpotSubscriptionBatch is a batch of two subscription events.
	HubSpotSubscriptionBatch = "hubspot-subscription-batch.json"
	// PipedriveV1Person, PipedriveV2Person and PipedriveV2Delete are
	// Pipedrive webhooks of both versions.
	PipedriveV1Person = "pipedrive-v1-person.json"
	PipedriveV2Person = "pipedrive-v2-person.json"
	PipedriveV2Delete = "pipedrive-v2-delete.json"
	// ZohoLeadJSON and ZohoLeadForm are the same Zoho lead as a JSON and as
	// a form body, each carrying ZohoToken in a "token" field.
	ZohoLeadJSON = "zoho-lead.json"
	ZohoLeadForm = "zoho-lead-form.txt"
	// DynamicsLeadCreate is a RemoteExecutionContext of a lead Create.
	DynamicsLeadCreate = "dynamics-lead-create.json"
	// DynamicsDocsContactUpdate is the contact Update context Microsoft
	// publishes, verbatim:
	// https://learn.microsoft.com/power-apps/developer/data-platform/use-webhooks
	DynamicsDocsContactUpdate = "dynamics-docs-contact-update.json"
	// CloseLeadCreated is a Close lead.created event.
	CloseLeadCreated = "close-lead-created.json"
	// StandardCall is a Standard Webhooks payload asking for a call.
	StandardCall = "standard-call.json"
	// GenericCall is a generic JSON call request.
	GenericCall = "generic-call.json"
)

//go:embed bodies
var bodies embed.FS

// Body returns a copy of the named sample (one of the constants above), so
// that a test may change it freely. An unknown name is a mistake in the
// test and panics.
func Body(name string) []byte {
	b, err := bodies.ReadFile(path.Join("bodies", name))
	if err != nil {
		panic(fmt.Sprintf("samples: no sample %q (one of %v)", name, Names()))
	}
	return b
}

// Names lists the samples, sorted.
func Names() []string {
	entries, err := fs.ReadDir(bodies, "bodies")
	if err != nil {
		panic(err) // the directory is embedded: it is always there
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out
}
