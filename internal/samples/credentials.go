package samples

// Credentials of the test sources: what a test configures a source with and
// signs its requests with. Tests check that none of them shows in an
// answer or a log, so each is distinctive text found nowhere else.
const (
	// SalesforceOrgID is the organization of SalesforceOutboundLead.
	SalesforceOrgID = "00D5g000004XyZaEAK"
	// HubSpotSecret is the app's client secret.
	HubSpotSecret = "hs-client-secret-1234"
	// PipedriveUser and PipedrivePassword are the webhook's HTTP Basic
	// credentials.
	PipedriveUser     = "dialhook"
	PipedrivePassword = "pd-pass-5678"
	// ZohoToken is the shared token; ZohoLeadJSON and ZohoLeadForm carry it.
	ZohoToken = "zoho-shared-token"
	// DynamicsKey is the WebhookKey Dataverse sends as ?code=;
	// DynamicsHeaderKey and DynamicsQueryKey are the values of an auth
	// header and an auth query parameter configured instead.
	DynamicsKey       = "wh-key-9012"
	DynamicsHeaderKey = "hdr-secret-4321"
	DynamicsQueryKey  = "q-secret-8765"
	// CloseKey is a Close signature_key (64 hex digits).
	CloseKey = "6b3a5f0e9c1d2e4f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f"
	// StandardSecret is a Standard Webhooks secret (whsec_ and base64).
	StandardSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	// GenericToken is a generic source's shared token.
	GenericToken = "gen-token-3456"
)

// AgentRoutes is the agents table of the test deployments: each sample's
// owner → the route route(agent) builds for the agent its calls go to (the
// agent's phone is the agent number). It is a new map on every call. The
// route type is the caller's (mapping.Route), because this package must not
// import mapping: mapping's own tests use it.
func AgentRoutes[R any](route func(agent string) R) map[string]R {
	// SalesforceLead's notifications have the Salesforce owner;
	// HubSpotWorkflowContact and StandardCall share theirs.
	owners := []struct{ owner, agent string }{
		{"0055g00000Ab1CdAAJ", "1001"},                   // salesforce
		{"71234567", "1002"},                             // hubspot, standard
		{"20441", "1003"},                                // pipedrive
		{"5725767000000211001", "1004"},                  // zoho
		{"7e3c2a10-9f1b-ef11-8409-000d3a5c1b2e", "1005"}, // dynamics
		{"user_7Ab2CdE3fGh4IjK5", "1006"},                // close
		{"ana@example.com", "1007"},                      // generic
	}
	out := make(map[string]R, len(owners))
	for _, o := range owners {
		out[o.owner] = route(o.agent)
	}
	return out
}
