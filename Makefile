# make test      vet and race tests of every module (the root module also
#                alone, GOWORK=off, and for GOARCH=386), short fuzz runs,
#                all against the embedded broker (the README's test command)
# make test-kafka  the integration and kprod suites against a real broker;
#                needs KAFKA_BROKERS (see integration/kafka/broker.sh); with
#                three brokers (broker.sh start --nodes 3) the cluster
#                failure tests run too; with KAFKA_SECURITY, the TLS and SASL
#                suites against a secured broker instead
# make test-kafka-compat  test-kafka against one broker of an older Kafka
#                (KAFKA_COMPAT_VERSION, 3.9.1 by default) that it starts in
#                a state directory of its own and stops after
# make soak      the soak test against the embedded broker
# make chaos     the chaos tests against broker.sh's 3-broker cluster
#                (KAFKA_BROKERS and KAFKA_STATE_DIR): the idempotent
#                producer's, then the transactions'; CI runs them briefly
# make lint      staticcheck (pinned below) on every module
# make bench     the benchmarks of the byte layer and the producer
# make benchstat  the same benchmarks, BENCHCOUNT times, compared by
#                benchstat with bench/baseline.txt (make bench-baseline
#                rewrites it)
# make bench-race  the producer race (bench/cmd/race): every client in its
#                own process on the embedded broker, writing bench/RESULTS.md;
#                RACE_FLAGS: e.g. -java -kafka -records 200000 (see its -h);
#                -clients gokafka,gokafka@HEAD~1,franz-go races a change
#                against its parent commit; -instructions counts
#                instructions per record under valgrind instead
# make install-check  go install kprod from a release rehearsed in a module
#                proxy on disk (scripts/install-check.sh)

GO       ?= go
FUZZTIME ?= 100000x
MODULES  := . ./integration ./cmd/kprod ./bench ./plugin/promhooks ./plugin/otelhooks
# The metrics plugins, whose tests produce to the embedded broker.
PLUGINS  := ./plugin/promhooks ./plugin/otelhooks
# Packages whose tests need no broker at all.
ROOT_PKGS := ./...
# The linter, pinned: staticcheck 2026.2.2. STATICCHECK is how to run it;
# by default go run builds it from the Go module proxy (CI installs it once
# and passes the binary).
STATICCHECK_VERSION := v0.8.2
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

.PHONY: test vet unit unit386 standalone benchcheck benchstat bench-baseline integration kprod plugins fuzz lint staticcheck-version test-kafka test-kafka-secured test-kafka-compat soak chaos bench bench-race install-check

test: vet unit unit386 standalone benchcheck integration kprod plugins fuzz

# Every module for this machine and for two 32-bit platforms, GOARCH=386
# and arm, where an int is 32 bits: a constant past math.MaxInt32 given to
# an int does not compile there, which a 64-bit build never shows (the
# root package once failed to build for both). arm as well as 386, as
# their syscall types differ. GOOS=linux, as macOS has neither.
vet:
	@for m in $(MODULES); do \
		if [ -f $$m/go.mod ]; then \
			echo "== go vet $$m"; (cd $$m && $(GO) vet ./... && \
				GOOS=linux GOARCH=386 $(GO) vet ./... && GOOS=linux GOARCH=arm $(GO) vet ./...) || exit 1; \
		fi; \
	done

unit:
	$(GO) test -race -count=1 $(ROOT_PKGS)

# The same tests where an int is 32 bits: a size or a length from the wire
# that wraps there passes every 64-bit run (DecodeBatch panicked on a
# batch length near math.MaxInt32). GOARCH=386 runs natively on an amd64
# Linux whose kernel runs 32-bit binaries, which a small package's test
# binary tries first; without -race, which 386 lacks; about 35 s, a minute
# with a cold build cache. Other machines skip it, saying so, but not
# under CI=true: CI's machines run 386.
unit386:
	@probe=$$(mktemp); trap 'rm -f "$$probe"' EXIT; \
	GOARCH=386 $(GO) test -c -o "$$probe" ./internal/backoff || exit 1; \
	if "$$probe" -test.run '^$$' >/dev/null 2>&1; then \
		echo "GOARCH=386 $(GO) test -count=1 $(ROOT_PKGS)"; GOARCH=386 $(GO) test -count=1 $(ROOT_PKGS); \
	elif [ "$${CI:-}" = true ]; then \
		echo "unit386: this machine does not run GOARCH=386 binaries, and CI must"; exit 1; \
	else echo "unit386: skipped, this machine does not run GOARCH=386 binaries"; fi

# The root module as a user's build sees it: its own go.mod and go.sum
# alone, without the workspace that maps the nested modules.
# Without -race too: the allocation tests (TestAppendDoesNotAllocate,
# TestCompressAllocs) skip under the race detector, which drops sync.Pool
# items, so this is where they run.
standalone:
	GOWORK=off $(GO) build ./...
	GOWORK=off $(GO) test -count=1 ./...

# Every benchmark of the root module once: they check what they measure
# (every record delivered, the fake broker's count, no allocation where
# none is promised), and those checks must not rot between releases.
benchcheck:
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x ./...

# The whole suite twice: under -race, and without it, where connections
# read and write with system calls the race detector cannot follow
# (conn/rawio_linux.go) and the transactional random-fault scenes also
# delay produce requests (left out under the race detector, which reports
# a race inside kfake's delays). The second run takes about 100s.
integration:
	@if [ -f integration/go.mod ]; then cd integration && KAFKA_BROKERS= $(GO) test -race -count=1 -timeout 20m ./... && \
		KAFKA_BROKERS= $(GO) test -count=1 -timeout 20m ./...; fi

# The bench module's tests run under the race detector (it costs about 15
# seconds), its benchmarks once without it, as benchcheck's.
kprod:
	@if [ -f cmd/kprod/go.mod ]; then cd cmd/kprod && KAFKA_BROKERS= $(GO) test -race -count=1 -timeout 20m ./...; fi
	@if [ -f bench/go.mod ]; then cd bench && $(GO) test -race -count=1 ./... && $(GO) test -count=1 -run '^$$' -bench . -benchtime 1x ./...; fi

# Twice, as the root's suite: under -race, and without it, where the
# allocation counts the race detector skips run.
plugins:
	@for m in $(PLUGINS); do \
		echo "== go test $$m"; (cd $$m && KAFKA_BROKERS= $(GO) test -race -count=1 -timeout 10m ./... && \
			KAFKA_BROKERS= $(GO) test -count=1 -timeout 10m ./...) || exit 1; \
	done

fuzz:
	@FUZZTIME=$(FUZZTIME) scripts/fuzz-all.sh

# The confluent-kafka-go contender of the race builds only with its tag
# (cgo and a C compiler), so it is checked on its own.
lint:
	@for m in $(MODULES); do \
		echo "== staticcheck $$m"; (cd $$m && $(STATICCHECK) ./...) || exit 1; \
	done
	@echo "== staticcheck -tags confluent ./bench/clients/confluent"
	@cd bench && $(GO) vet -tags confluent ./clients/confluent && $(STATICCHECK) -tags confluent ./clients/confluent

staticcheck-version:
	@echo $(STATICCHECK_VERSION)

# With KAFKA_SECURITY set (broker.sh start --security MODE prints it with
# the rest of what the secured suite needs), KAFKA_BROKERS is a secured
# broker and test-kafka runs the secured suite instead.
ifneq ($(KAFKA_SECURITY),)
test-kafka: test-kafka-secured
else
# The -timeouts here and in test-kafka-secured and soak add up to less than
# .ci/run's limit of the step that runs them, so that a test that hangs
# fails with every goroutine's stack rather than being killed silently.
# The end-to-end tests run again without -race, where connections read
# and write with raw system calls (see the integration target).
test-kafka:
	@test -n "$$KAFKA_BROKERS" || { echo "KAFKA_BROKERS is not set: start a broker with integration/kafka/broker.sh start (--nodes 3 for a cluster)"; exit 2; }
	cd integration && $(GO) test -race -count=1 -timeout 25m ./...
	cd integration && $(GO) test -count=1 -timeout 5m -run '^TestE2E' .
	@if [ -f cmd/kprod/go.mod ]; then cd cmd/kprod && $(GO) test -race -count=1 -timeout 10m ./...; fi
endif

# The TLS and SASL suites against a secured broker, verbose so that every
# error they provoke is in the output that CI searches for the password.
test-kafka-secured:
	@test -n "$$KAFKA_BROKERS" -a -n "$$KAFKA_SECURITY" || { echo "KAFKA_BROKERS and KAFKA_SECURITY are not set: start a broker with integration/kafka/broker.sh start --security MODE"; exit 2; }
	cd integration && $(GO) test -race -count=1 -timeout 5m -v ./secured/
	cd cmd/kprod && $(GO) test -race -count=1 -timeout 5m -v -run 'Secured' .

# Many clusters still run 3.x, which lacks what 4.x added (transactions
# v2 among it): the suite skips, saying so, what the broker it meets
# lacks. The broker is started here rather than by the caller so that its
# version is certain, and stopped on the way out, whatever the suite's
# outcome (sh runs no EXIT trap on a signal, hence the signals' traps);
# KAFKA_SECURITY is cleared, as the broker is not secured. Its errors are
# printed on a failure, before the stop removes its logs.
# KAFKA_COMPAT_STATE_DIR is its state (CI gives one its cleanup stops).
KAFKA_COMPAT_VERSION ?= 3.9.1
KAFKA_COMPAT_STATE_DIR ?= $${TMPDIR:-/tmp}/gokafka-compat-$(KAFKA_COMPAT_VERSION)
test-kafka-compat:
	@state="$(KAFKA_COMPAT_STATE_DIR)"; \
	broker() { KAFKA_VERSION=$(KAFKA_COMPAT_VERSION) KAFKA_STATE_DIR="$$state" integration/kafka/broker.sh "$$@"; }; \
	trap 'broker stop' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 129' HUP; \
	line=$$(broker start) || exit 1; \
	rc=0; env -u KAFKA_SECURITY KAFKA_STATE_DIR="$$state" "$$line" $(MAKE) test-kafka || rc=$$?; \
	if [ $$rc != 0 ]; then \
		echo "== the broker's errors (its logs go with its state)"; \
		broker logs 2>/dev/null | grep -E '^==| ERROR |Exception|Error:' | tail -n 80; \
	fi; \
	exit $$rc

# SOAK_FLAGS: e.g. -soak.duration 60s -soak.records 40000000 -soak.seed N
soak:
	cd integration && KAFKA_BROKERS= $(GO) test -v -count=1 -timeout 20m -run '^TestSoak$$' . -args -soak $(SOAK_FLAGS)

# Two tests, one after the other, on the same fault schedule: TestClusterChaos
# (the idempotent producer) and TestClusterChaosTransactions (transactions
# committed and aborted, read back by a read_committed consumer).
# CHAOS_FLAGS: e.g. -chaos.duration 10m -chaos.seed N -chaos.alldown (see
# the tests' -h); they apply to both. The -timeout leaves each test its
# default 2 minutes of faults and what it may need after them (each checks
# that they fit): 12 minutes for TestClusterChaos, 31 for the
# transactions, whose transaction under way may end through every call of
# the contract; 47 in all. A hang then fails with every goroutine's stack;
# CHAOS_TIMEOUT raises it for a longer -chaos.duration (twice it, and 45m).
CHAOS_TIMEOUT ?= 50m
chaos:
	@test -n "$$KAFKA_BROKERS" || { echo "KAFKA_BROKERS is not set: start a cluster with integration/kafka/broker.sh start --nodes 3"; exit 2; }
	cd integration && $(GO) test -v -count=1 -timeout $(CHAOS_TIMEOUT) -run '^TestClusterChaos(Transactions)?$$' . -args -chaos $(CHAOS_FLAGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem . ./record/ ./compression/ ./protocol/ ./partitioner/ ./bufferpool/ ./metadata/
	@if [ -f bench/go.mod ]; then cd bench && $(GO) test -run '^$$' -bench . -benchmem ./...; fi

# The library's benchmarks for benchstat: the byte layer and the whole
# producer against its in-process fake broker. Compare runs
# made on the same machine only; BENCHCOUNT of 6 or more gives benchstat
# enough samples for its confidence intervals.
BENCHCOUNT ?= 6
BENCHPKGS  := . ./record/ ./compression/ ./partitioner/ ./bufferpool/ ./metadata/
BENCHSTAT  ?= $(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
BENCHOUT   ?= bench/current.txt

benchstat:
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) $(BENCHPKGS) > $(BENCHOUT)
	$(BENCHSTAT) bench/baseline.txt $(BENCHOUT)

bench-baseline:
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) $(BENCHPKGS) > bench/baseline.txt

bench-race:
	$(GO) run ./bench/cmd/race $(RACE_FLAGS)

install-check:
	scripts/install-check.sh
