package crm

// knownFields are the top-level fields a record of each kind has in the
// vendors' documented samples (and the fields dialhook adds). They are
// what a bare word in a mapping rule is expected to name: a bare word that
// is none of them is more likely meant as a constant ("context: agentes")
// than as a path, and start-up says so (see Suspicious).
var knownFields = map[string][]string{
	"generic":  {"event_id", "destination", "owner", "callerid", "agent", "phone", "tech", "context", "outqueue"},
	"standard": {"event_id", "destination", "owner", "callerid", "agent", "phone", "tech", "context", "outqueue"},
	"ucontact": {"event", "date", "guid", "agent", "campaign", "agentNumber", "agentFullName", "callerIdNum"},
	"salesforce": {"Id", "Phone", "MobilePhone", "OwnerId", "Name", "FirstName", "LastName", "Company", "Email",
		"Status", "LeadSource", "Title", "Country", "CreatedDate", "LastModifiedDate"},
	"hubspot": {"vid", "portal-id", "properties", "is-contact", "objectId", "objectTypeId", "propertyName",
		"propertyValue", "subscriptionType", "eventId", "portalId", "occurredAt", "changeSource", "id"},
	"pipedrive": {"id", "name", "phones", "phone", "emails", "email", "owner_id", "org_id", "_primary_phone",
		"_owner_id", "first_name", "last_name", "label", "add_time", "update_time"},
	"zoho": {"id", "Mobile", "Phone", "Owner", "Owner_Id", "owner_id", "mobile", "phone", "Email", "First_Name",
		"Last_Name", "Full_Name", "Company", "Lead_Status", "Lead_Source", "Modified_Time", "Created_Time"},
	"dynamics": {"telephone1", "mobilephone", "telephone2", "ownerid", "leadid", "contactid", "fullname", "firstname",
		"lastname", "companyname", "emailaddress1", "subject", "statuscode", "createdon", "modifiedon", "Id", "LogicalName", "Name"},
	"close": {"event", "subscription_id"},
}

// Suspicious reports whether rule, a mapping rule of a source of kind,
// looks like a constant written as a path: a bare word (no dot, no
// wildcard, no query) that names no field the kind's records are known to
// have.
func Suspicious(kind string, rule any) (word string, ok bool) {
	s, isString := rule.(string)
	if !isString || s == "" {
		return "", false
	}
	for _, c := range s {
		if c == '.' || c == '#' || c == '|' || c == '@' || c == '*' || c == '?' || c == '\\' || c == '(' || c == '[' {
			return "", false
		}
	}
	for _, f := range knownFields[kind] {
		if f == s {
			return "", false
		}
	}
	return s, true
}
