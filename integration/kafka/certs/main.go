// Command certs writes the throw-away certificates of the secured test
// broker (broker.sh start --security ssl|sasl_ssl) into a directory:
//
//	ca.pem                        the CA that signs the others (KAFKA_CA)
//	broker.pem, broker-key.pem    the broker's, for 127.0.0.1 and localhost
//	expired.pem, expired-key.pem  the same hosts, expired yesterday
//	client.pem, client-key.pem    a client certificate, for mutual TLS
//
// Keys are unencrypted PKCS #8 and everything is valid for two days: these
// certificates live as long as one test run.
//
//	go run ./kafka/certs DIR
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gokafka/producer/internal/testcerts"
)

const validity = 48 * time.Hour

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: certs DIR")
		os.Exit(2)
	}
	if err := write(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "certs:", err)
		os.Exit(1)
	}
}

func write(dir string) error {
	ca, err := testcerts.NewCA("gokafka test CA", validity)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca.PEM(), 0o644); err != nil {
		return err
	}
	client := testcerts.Valid("gokafka-client", validity)
	client.Client = true
	for name, spec := range map[string]testcerts.Spec{
		"broker":  testcerts.Valid("gokafka-broker", validity, "127.0.0.1", "localhost"),
		"expired": testcerts.Expired("gokafka-broker-expired", "127.0.0.1", "localhost"),
		"client":  client,
	} {
		cert, err := ca.Issue(spec)
		if err != nil {
			return err
		}
		key, err := testcerts.KeyPEM(cert)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name+".pem"), testcerts.CertPEM(cert.Certificate[0]), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-key.pem"), key, 0o600); err != nil {
			return err
		}
	}
	return nil
}
