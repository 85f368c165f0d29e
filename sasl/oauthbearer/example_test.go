package oauthbearer_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gokafka/producer/sasl/oauthbearer"
)

// A client-credentials provider asks the identity provider once for the
// producer's many connections: Cached serves its token until shortly
// before it expires.
func ExampleCached() {
	fetches := 0
	fetch := func(ctx context.Context) (oauthbearer.Token, error) {
		fetches++ // a POST to the identity provider's token endpoint, under ctx
		return oauthbearer.Token{
			Value:  "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.",
			Expiry: time.Now().Add(time.Hour), // now plus the answer's expires_in
		}, nil
	}
	mech := oauthbearer.New(oauthbearer.Cached(fetch))
	for _, broker := range []string{"kafka-1:9093", "kafka-2:9093", "kafka-3:9093"} {
		if _, err := mech.Start(context.Background(), broker); err != nil {
			fmt.Println(err)
		}
	}
	fmt.Println("fetches:", fetches)
	// Output: fetches: 1
}
