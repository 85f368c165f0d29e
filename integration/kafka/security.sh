# security.sh is sourced by broker.sh: the secured listeners of
# `broker.sh start --security MODE`. It only defines functions and reads
# the environment; broker.sh and nodes.sh call them at four points
# (argument parsing, config, storage format, the printed result). Security
# is for the single node (node 1) only.
#
#   MODE            client listener     authentication
#   ssl             SSL                 TLS with a client certificate (mTLS)
#   sasl_plaintext  SASL_PLAINTEXT      SASL, no TLS
#   sasl_ssl        SASL_SSL            TLS, then SASL
#
# Throw-away certificates are made at start by a small Go program
# (kafka/certs in the integration module) under $STATE_DIR/tls. SASL
# enables PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER on the
# client listener:
#
#   user     gokafka          (KAFKA_SASL_USER overrides)
#   password gokafka-secret   (KAFKA_SASL_PASSWORD overrides)
#
# PLAIN and both SCRAM mechanisms accept that user and password (the SCRAM
# credentials are written when the storage is formatted). OAUTHBEARER uses
# the broker's unsecured-token validator: any unsigned JWT ({"alg":"none"})
# with a "sub" claim and an "exp" in the future is accepted, as sub.
#
# KAFKA_REAUTH_MS sets connections.max.reauth.ms, after which a SASL client
# must re-authenticate (KIP-368). sasl_ssl defaults to 5000 so that any run
# longer than a few seconds re-authenticates; the other modes to Kafka's
# default, no re-authentication.
#
# After KAFKA_BROKERS=, start and status print, each on its own line:
#   KAFKA_CA=PATH               the CA's PEM file (ssl, sasl_ssl)
#   KAFKA_SECURITY=MODE
#   KAFKA_CLIENT_CERT=PATH      client certificate and key (ssl)
#   KAFKA_CLIENT_KEY=PATH
#   KAFKA_EXPIRED_BROKERS=ADDR  a listener whose certificate expired yesterday (ssl, sasl_ssl)
#   KAFKA_SASL_USER=USER        (sasl_plaintext, sasl_ssl)
#   KAFKA_REAUTH_MS=N           when re-authentication is on
# The password is never printed.

SECURITY=
SECURITY_FORMAT_ARGS=()
SECURITY_ENV=$STATE_DIR/security.env

# security_parse_args [--security MODE]: start's security options.
security_parse_args() {
	while (($#)); do
		case $1 in
		--security)
			(($# >= 2)) || die "--security needs a mode: ssl, sasl_plaintext or sasl_ssl"
			SECURITY=$2
			shift 2
			;;
		--security=*)
			SECURITY=${1#--security=}
			shift
			;;
		*) die "start: unknown option $1 (want --security ssl|sasl_plaintext|sasl_ssl)" ;;
		esac
	done
	case $SECURITY in
	"" | ssl | sasl_plaintext | sasl_ssl) ;;
	*) die "--security $SECURITY: want ssl, sasl_plaintext or sasl_ssl" ;;
	esac
	SASL_USER=${KAFKA_SASL_USER:-gokafka}
	SASL_PASSWORD=${KAFKA_SASL_PASSWORD:-gokafka-secret}
	# The values go into JAAS strings and --add-scram lists unquoted.
	[[ $SASL_USER =~ ^[A-Za-z0-9._-]+$ ]] || die "KAFKA_SASL_USER: use letters, digits and ._- only"
	[[ $SASL_PASSWORD =~ ^[A-Za-z0-9._~+-]+$ ]] || die "KAFKA_SASL_PASSWORD: use letters, digits and ._~+- only"
	REAUTH_MS=${KAFKA_REAUTH_MS:-}
	if [[ -z $REAUTH_MS && $SECURITY == sasl_ssl ]]; then
		REAUTH_MS=5000
	fi
	[[ -z $REAUTH_MS || $REAUTH_MS =~ ^[0-9]+$ ]] || die "KAFKA_REAUTH_MS: $REAUTH_MS is not a number of milliseconds"
}

# security_running_matches: a running broker was started with the same mode.
security_running_matches() {
	local running=
	[[ -f $SECURITY_ENV ]] && running=$(sed -n 's/^KAFKA_SECURITY=//p' "$SECURITY_ENV")
	[[ $running == "$SECURITY" ]]
}

# pem_property KEY FILE: a properties line whose value is the PEM file, its
# lines joined by backslash continuations (how Kafka documents inline PEM).
pem_property() {
	printf '%s=' "$1"
	sed -e 's/$/ \\/' -e '$ s/ \\$//' "$2"
	echo
}

# security_make_certs DIR: the throw-away CA and certificates.
security_make_certs() {
	local dir=$1 here
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	command -v go >/dev/null || die "go not found on PATH: it makes the test certificates"
	mkdir -p "$dir"
	(cd "$here" && go run ./kafka/certs "$dir") || die "making the test certificates failed"
}

# security_config PORT CPORT: appends the secured listeners to
# server.properties (later keys override earlier ones) and records what
# security_print prints. Inter-broker and controller traffic stays on
# plaintext listeners bound to 127.0.0.1.
security_config() {
	local port=$1 cport=$2 iport eport listener proto tls=$STATE_DIR/tls lname
	rm -f "$SECURITY_ENV"
	SECURITY_FORMAT_ARGS=()
	[[ -n $SECURITY ]] || return 0
	iport=$(free_port "$port" "$cport")
	proto=${SECURITY^^}
	listener=$proto://127.0.0.1:$port
	lname=${SECURITY}
	echo "KAFKA_SECURITY=$SECURITY" >"$SECURITY_ENV"
	if [[ $SECURITY == *ssl ]]; then
		security_make_certs "$tls"
		eport=$(free_port "$port" "$cport" "$iport")
	fi
	{
		echo
		echo "# secured listeners (security.sh, --security $SECURITY)"
		if [[ $SECURITY == *ssl ]]; then
			echo "listeners=$listener,EXPIRED://127.0.0.1:$eport,INTERNAL://127.0.0.1:$iport,CONTROLLER://127.0.0.1:$cport"
			echo "advertised.listeners=$listener,EXPIRED://127.0.0.1:$eport,INTERNAL://127.0.0.1:$iport"
			echo "listener.security.protocol.map=$proto:$proto,EXPIRED:SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT"
			echo "ssl.keystore.type=PEM"
			pem_property ssl.keystore.certificate.chain "$tls/broker.pem"
			pem_property ssl.keystore.key "$tls/broker-key.pem"
			echo "ssl.truststore.type=PEM"
			echo "ssl.truststore.location=$tls/ca.pem"
			pem_property listener.name.expired.ssl.keystore.certificate.chain "$tls/expired.pem"
			pem_property listener.name.expired.ssl.keystore.key "$tls/expired-key.pem"
			echo "listener.name.expired.ssl.client.auth=none"
			{
				echo "KAFKA_CA=$tls/ca.pem"
				echo "KAFKA_SECURITY=$SECURITY"
				if [[ $SECURITY == ssl ]]; then
					echo "KAFKA_CLIENT_CERT=$tls/client.pem"
					echo "KAFKA_CLIENT_KEY=$tls/client-key.pem"
				fi
				echo "KAFKA_EXPIRED_BROKERS=127.0.0.1:$eport"
			} >"$SECURITY_ENV"
		else
			echo "listeners=$listener,INTERNAL://127.0.0.1:$iport,CONTROLLER://127.0.0.1:$cport"
			echo "advertised.listeners=$listener,INTERNAL://127.0.0.1:$iport"
			echo "listener.security.protocol.map=$proto:$proto,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT"
		fi
		echo "inter.broker.listener.name=INTERNAL"
		if [[ $SECURITY == ssl ]]; then
			echo "ssl.client.auth=required"
		fi
		if [[ $SECURITY == sasl_* ]]; then
			echo "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER"
			echo "listener.name.$lname.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$SASL_USER=\"$SASL_PASSWORD\";"
			echo "listener.name.$lname.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
			echo "listener.name.$lname.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
			echo "listener.name.$lname.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;"
			echo "KAFKA_SASL_USER=$SASL_USER" >>"$SECURITY_ENV"
			SECURITY_FORMAT_ARGS=(
				--add-scram "SCRAM-SHA-256=[name=$SASL_USER,password=$SASL_PASSWORD]"
				--add-scram "SCRAM-SHA-512=[name=$SASL_USER,password=$SASL_PASSWORD]"
			)
		fi
		if [[ -n $REAUTH_MS ]]; then
			echo "connections.max.reauth.ms=$REAUTH_MS"
			echo "KAFKA_REAUTH_MS=$REAUTH_MS" >>"$SECURITY_ENV"
		fi
	} >>"$(node_dir 1)/server.properties"
}

# security_print: the lines after KAFKA_BROKERS= (see the header).
security_print() {
	if [[ -f $SECURITY_ENV ]]; then
		cat "$SECURITY_ENV"
	fi
}
