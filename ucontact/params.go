package ucontact

import "net/url"

// Params are the seven form fields of AgentCall, named as the API names them.
type Params struct {
	CallerID    string `json:"callerid"`
	Agent       string `json:"agent"`
	Phone       string `json:"phone"` // the agent's phone (extension), not the customer's
	Tech        string `json:"tech"`
	Context     string `json:"context"`
	OutQueue    string `json:"outqueue"`
	Destination string `json:"destination"` // the customer's number to dial
}

// Names lists the AgentCall parameter names in the API's order.
var Names = [...]string{"callerid", "agent", "phone", "tech", "context", "outqueue", "destination"}

// Get returns the parameter called name ("" for an unknown name).
func (p *Params) Get(name string) string {
	if f := p.field(name); f != nil {
		return *f
	}
	return ""
}

// Set sets the parameter called name and reports whether the name is known.
func (p *Params) Set(name, value string) bool {
	if f := p.field(name); f != nil {
		*f = value
		return true
	}
	return false
}

func (p *Params) field(name string) *string {
	switch name {
	case "callerid":
		return &p.CallerID
	case "agent":
		return &p.Agent
	case "phone":
		return &p.Phone
	case "tech":
		return &p.Tech
	case "context":
		return &p.Context
	case "outqueue":
		return &p.OutQueue
	case "destination":
		return &p.Destination
	}
	return nil
}

// Missing lists the names of empty parameters, in API order.
func (p Params) Missing() []string {
	var out []string
	for _, n := range Names {
		if p.Get(n) == "" {
			out = append(out, n)
		}
	}
	return out
}

// Form encodes the parameters as the AgentCall form body. Values are always
// form-encoded: campaign names such as "Ventas->" carry characters that a
// hand-built body would break.
func (p Params) Form() url.Values {
	v := make(url.Values, len(Names))
	for _, n := range Names {
		v.Set(n, p.Get(n))
	}
	return v
}
