package cloudsim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// GCETokenPath is the simulator's OAuth 2.0 token endpoint: a service
// account key file whose token_uri points here gets access tokens the way
// it would from oauth2.googleapis.com (JWT bearer grant, RFC 7523).
const GCETokenPath = "/token"

// serveToken answers a JWT-bearer token request: the assertion must be a
// signed JWT (three base64url parts, an RS256 header, claims naming the
// issuer, the audience and the times). The signature cannot be checked
// without the key's public half; its presence and shape can.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, rec *Request) {
	rec.Action = "oauth2.token"
	fail := func(code, desc string) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
		rec.Status, rec.Error = http.StatusBadRequest, code
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		fail("invalid_request", "POST a form-encoded token request")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		fail("invalid_request", "unreadable body")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		fail("invalid_request", "malformed form")
		return
	}
	if form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		fail("unsupported_grant_type", "Invalid grant_type: "+clip(form.Get("grant_type")))
		return
	}
	parts := strings.Split(form.Get("assertion"), ".")
	if len(parts) != 3 || parts[2] == "" {
		fail("invalid_grant", "Invalid JWT: want header.claims.signature")
		return
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iss   string `json:"iss"`
		Aud   string `json:"aud"`
		Scope string `json:"scope"`
		Exp   int64  `json:"exp"`
		Iat   int64  `json:"iat"`
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	if err1 != nil || err2 != nil || json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(cb, &claims) != nil {
		fail("invalid_grant", "Invalid JWT: parts are not base64url JSON")
		return
	}
	if hdr.Alg != "RS256" || claims.Iss == "" || claims.Aud == "" || claims.Exp <= claims.Iat || claims.Exp-claims.Iat > 3600 {
		fail("invalid_grant", "Invalid JWT: want alg RS256, iss, aud, and exp within an hour of iat")
		return
	}
	if claims.Scope == "" {
		fail("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
		return
	}
	rec.Auth, rec.AuthOK = "JWT-bearer", true
	var tok [24]byte
	rand.Read(tok[:])
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(map[string]any{"access_token": "ya29.sim-" + hex.EncodeToString(tok[:]), "token_type": "Bearer", "expires_in": 3599})
	rec.Status = http.StatusOK
}

// GCEServiceAccountKey returns a service account key file (the JSON
// GOOGLE_APPLICATION_CREDENTIALS names) of project whose token_uri is the
// simulator at baseURL: Google's libraries sign a JWT with its fresh RSA
// key and trade it there for a bearer token, as with a real account.
func GCEServiceAccountKey(baseURL, project string) ([]byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	var id [20]byte
	rand.Read(id[:])
	return json.MarshalIndent(map[string]string{
		"type":           "service_account",
		"project_id":     project,
		"private_key_id": hex.EncodeToString(id[:]),
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "aerolith@" + project + ".iam.gserviceaccount.com",
		"client_id":      "100000000000000000001",
		"auth_uri":       "https://accounts.google.com/o/oauth2/auth",
		"token_uri":      strings.TrimRight(baseURL, "/") + GCETokenPath,
	}, "", "  ")
}
