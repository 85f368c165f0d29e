package fakebroker

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// The broker's half of SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802), for
// Options.SCRAM: a connection must authenticate before any request but
// ApiVersions, as on a Kafka listener with SASL, and refused credentials
// get SASL_AUTHENTICATION_FAILED and a closed connection.

// scramIterations is Kafka's minimum (and RFC 7677's advice).
const scramIterations = 4096

var scramHashes = map[string]func() hash.Hash{"SCRAM-SHA-256": sha256.New, "SCRAM-SHA-512": sha512.New}

// scramExchange is one connection's authentication in progress.
type scramExchange struct {
	mechanism   string
	hash        func() hash.Hash
	users       map[string]string
	step        int
	clientFirst string // client-first-message-bare
	serverFirst string
	nonce       string // the client's and ours
	salt        []byte
	password    string
}

var errAuthFailed = errors.New("fakebroker: authentication failed")

// handleSaslHandshake accepts a SCRAM mechanism or lists the ones enabled.
func (s *session) handleSaslHandshake(version int16, body []byte) (protocol.Response, error) {
	var req protocol.SaslHandshakeRequest
	if err := req.ReadFrom(body, version); err != nil {
		return nil, err
	}
	h, ok := scramHashes[req.Mechanism]
	if !ok {
		return &protocol.SaslHandshakeResponse{ErrorCode: kerr.UnsupportedSASLMechanism.Code,
			Mechanisms: []string{"SCRAM-SHA-256", "SCRAM-SHA-512"}}, nil
	}
	s.scram = &scramExchange{mechanism: req.Mechanism, hash: h, users: s.c.opts.SCRAM}
	return &protocol.SaslHandshakeResponse{Mechanisms: []string{req.Mechanism}}, nil
}

// handleSaslAuthenticate takes one step of the exchange. A refusal is
// answered, and then the connection closes (errAuthFailed).
func (s *session) handleSaslAuthenticate(version int16, body []byte) (protocol.Response, error) {
	var req protocol.SaslAuthenticateRequest
	if err := req.ReadFrom(body, version); err != nil {
		return nil, err
	}
	if s.scram == nil {
		return nil, fmt.Errorf("fakebroker: SaslAuthenticate before SaslHandshake")
	}
	reply, done, err := s.scram.next(string(req.AuthBytes))
	if err != nil {
		msg := fmt.Sprintf("Authentication failed during authentication due to invalid credentials with SASL mechanism %s", s.scram.mechanism)
		s.refused = true
		return &protocol.SaslAuthenticateResponse{ErrorCode: kerr.SASLAuthenticationFailed.Code, ErrorMessage: &msg}, nil
	}
	s.authenticated = done
	return &protocol.SaslAuthenticateResponse{AuthBytes: []byte(reply)}, nil
}

// next answers the client's message: server-first, then server-final.
func (x *scramExchange) next(msg string) (string, bool, error) {
	x.step++
	switch x.step {
	case 1:
		bare, ok := strings.CutPrefix(msg, "n,,")
		if !ok {
			return "", false, errAuthFailed
		}
		attrs := scramAttrs(bare)
		password, known := x.users[attrs['n']]
		if !known || attrs['r'] == "" {
			return "", false, errAuthFailed
		}
		x.clientFirst, x.password = bare, password
		x.salt = make([]byte, 16)
		ours := make([]byte, 18)
		rand.Read(x.salt)
		rand.Read(ours)
		x.nonce = attrs['r'] + base64.RawStdEncoding.EncodeToString(ours)
		x.serverFirst = fmt.Sprintf("r=%s,s=%s,i=%d", x.nonce, base64.StdEncoding.EncodeToString(x.salt), scramIterations)
		return x.serverFirst, false, nil
	case 2:
		withoutProof, proof64, ok := strings.Cut(msg, ",p=")
		if !ok || scramAttrs(withoutProof)['r'] != x.nonce {
			return "", false, errAuthFailed
		}
		proof, err := base64.StdEncoding.DecodeString(proof64)
		if err != nil {
			return "", false, errAuthFailed
		}
		salted, err := pbkdf2.Key(x.hash, x.password, x.salt, scramIterations, x.hash().Size())
		if err != nil {
			return "", false, err
		}
		clientKey := x.hmac(salted, "Client Key")
		storedKey := x.sum(clientKey)
		authMessage := x.clientFirst + "," + x.serverFirst + "," + withoutProof
		signature := x.hmac(storedKey, authMessage)
		if len(proof) != len(signature) {
			return "", false, errAuthFailed
		}
		for i := range proof {
			proof[i] ^= signature[i] // the client's key, if it knows the password
		}
		if !hmac.Equal(x.sum(proof), storedKey) {
			return "", false, errAuthFailed
		}
		serverSig := x.hmac(x.hmac(salted, "Server Key"), authMessage)
		return "v=" + base64.StdEncoding.EncodeToString(serverSig), true, nil
	}
	return "", false, errAuthFailed
}

func (x *scramExchange) hmac(key []byte, msg string) []byte {
	h := hmac.New(x.hash, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

func (x *scramExchange) sum(b []byte) []byte {
	h := x.hash()
	h.Write(b)
	return h.Sum(nil)
}

// scramAttrs splits "a=1,b=2" into its attributes.
func scramAttrs(msg string) map[byte]string {
	attrs := make(map[byte]string)
	for field := range strings.SplitSeq(msg, ",") {
		if len(field) >= 2 && field[1] == '=' {
			attrs[field[0]] = field[2:]
		}
	}
	return attrs
}
