# Sourced by the project's scripts: installs what a step needs, once per machine.

# The WebAssembly target that Rust func crates build for.
ensure_wasm_target() {
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then
    echo "setup: adding the wasm32-wasip1 target" >&2
    rustup target add wasm32-wasip1
  fi
}

# A Debian package that provides COMMAND.
ensure_command() {
  local command=$1 package=$2
  if ! command -v "$command" >/dev/null 2>&1; then
    echo "setup: installing $package (for $command)" >&2
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
    else
      sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
    fi
  fi
}

# A RabbitMQ broker on 127.0.0.1:5672 for the tests of the amqp backend.
# Leaves alone whatever already answers there; otherwise installs Debian's
# rabbitmq-server if needed, starts it and waits until it takes connections
# (FUNCMESH_RABBITMQ_TIMEOUT seconds, 90 by default).
ensure_rabbitmq() {
  local timeout=${FUNCMESH_RABBITMQ_TIMEOUT:-90}
  if rabbitmq_answers; then
    return 0
  fi
  ensure_command rabbitmq-server rabbitmq-server
  local deadline=$((SECONDS + timeout))
  local sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  # The package may have started it already; waiting below tells.
  if ! rabbitmq_answers; then
    echo "setup: starting rabbitmq-server" >&2
    $sudo rabbitmq-server -detached >/dev/null 2>&1 ||
      echo "setup: 'rabbitmq-server -detached' failed; waiting in case it is starting anyway" >&2
  fi
  until rabbitmq_answers; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "setup: RabbitMQ did not answer on 127.0.0.1:5672 within ${timeout}s;" \
        "see /var/log/rabbitmq/ and 'rabbitmqctl status'" >&2
      return 1
    fi
    # await_startup returns once the node has booted; it fails at once while
    # the node is not yet reachable, hence the pause.
    timeout 10 $sudo rabbitmqctl -q await_startup >/dev/null 2>&1 || sleep 1
  done
  echo "setup: RabbitMQ is up on 127.0.0.1:5672" >&2
}

# Whether something accepts TCP connections on 127.0.0.1:5672 (or PORT).
rabbitmq_answers() {
  (exec 3<>/dev/tcp/127.0.0.1/"${1:-5672}") 2>/dev/null
}

# The RabbitMQ of the tests also listens for TLS on 127.0.0.1:5671 with a
# certificate of a CA made here (in RABBITMQ_TLS_DIR: ca.pem, and
# client.pem with client-key.pem for a client certificate, which it
# verifies when one is given). Writes conf.d/50-funcmesh-tls.conf and
# restarts the broker, once per machine.
RABBITMQ_TLS_DIR=/etc/rabbitmq/funcmesh-tls
ensure_rabbitmq_tls() {
  local dir=$RABBITMQ_TLS_DIR timeout=${FUNCMESH_RABBITMQ_TIMEOUT:-90}
  local conf=/etc/rabbitmq/conf.d/50-funcmesh-tls.conf sudo= work deadline
  [ "$(id -u)" = 0 ] || sudo=sudo
  ensure_rabbitmq || return 1
  if rabbitmq_answers 5671 && [ -r "$dir/ca.pem" ]; then
    return 0
  fi
  ensure_command openssl openssl
  echo "setup: giving RabbitMQ a TLS listener on 127.0.0.1:5671 ($dir)" >&2
  $sudo mkdir -p "$dir" /etc/rabbitmq/conf.d
  if [ ! -r "$dir/ca.pem" ] || [ ! -r "$dir/client-key.pem" ]; then
    work=$(mktemp -d)
    if ! make_test_pki "$work" >"$work/log" 2>&1; then
      echo "setup: making the RabbitMQ test certificates failed:" >&2
      cat "$work/log" >&2
      rm -rf "$work"
      return 1
    fi
    $sudo cp "$work"/ca.pem "$work"/server.pem "$work"/server-key.pem \
      "$work"/client.pem "$work"/client-key.pem "$dir"/
    rm -rf "$work"
    $sudo chmod 0644 "$dir"/*.pem
    # The broker reads its key; the tests read the client's.
    $sudo chown rabbitmq "$dir/server-key.pem" 2>/dev/null || true
    $sudo chmod 0600 "$dir/server-key.pem"
  fi
  printf '%s\n' \
    "listeners.ssl.default = 127.0.0.1:5671" \
    "ssl_options.cacertfile = $dir/ca.pem" \
    "ssl_options.certfile = $dir/server.pem" \
    "ssl_options.keyfile = $dir/server-key.pem" \
    "ssl_options.verify = verify_peer" \
    "ssl_options.fail_if_no_peer_cert = false" | $sudo tee "$conf" >/dev/null
  echo "setup: restarting RabbitMQ for its TLS listener" >&2
  timeout 60 $sudo rabbitmqctl -q stop >/dev/null 2>&1 || true
  deadline=$((SECONDS + 30))
  while rabbitmq_answers && [ "$SECONDS" -lt "$deadline" ]; do sleep 1; done
  ensure_rabbitmq || return 1
  await_port 5671 "$timeout" "RabbitMQ (TLS)" /var/log/rabbitmq/
}

# RabbitMQ's management API on port 15672, through which `funcmesh clean`
# lists a namespace's queues (AMQP cannot). The plugin stays enabled
# across restarts of the broker.
ensure_rabbitmq_management() {
  local timeout=${FUNCMESH_RABBITMQ_TIMEOUT:-90} sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  ensure_rabbitmq || return 1
  if rabbitmq_answers 15672; then
    return 0
  fi
  echo "setup: enabling RabbitMQ's management plugin" >&2
  if ! timeout 120 $sudo rabbitmq-plugins -q enable rabbitmq_management >/dev/null 2>&1; then
    echo "setup: 'rabbitmq-plugins enable rabbitmq_management' failed; see /var/log/rabbitmq/" >&2
    return 1
  fi
  await_port 15672 "$timeout" "RabbitMQ's management API" /var/log/rabbitmq/
}

# Waits up to TIMEOUT seconds for 127.0.0.1:PORT to accept connections,
# saying that WHAT is up, or where its LOG is when it is not.
await_port() {
  local port=$1 timeout=$2 what=$3 log=$4
  local deadline=$((SECONDS + timeout))
  until (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "setup: $what did not answer on 127.0.0.1:$port within ${timeout}s; see $log" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "setup: $what is up on 127.0.0.1:$port" >&2
}

# A CA (ca.pem) and, signed by it, a server certificate for localhost and
# 127.0.0.1 (server.pem, server-key.pem) and a client certificate
# (client.pem, client-key.pem), all P-256, written to DIR.
make_test_pki() {
  local dir=$1 name
  cd "$dir" || return 1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=funcmesh test CA" -keyout ca-key.pem -out ca.pem || return 1
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
  printf 'extendedKeyUsage=clientAuth\n' >client.ext
  for name in server client; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -subj "/CN=funcmesh-$name" -keyout "$name-key.pem" -out "$name.csr" || return 1
    openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
      -days 3650 -extfile "$name.ext" -out "$name.pem" || return 1
  done
  cd - >/dev/null
}

# The Python that pyo3 builds the runner's interpreter against: `python3`
# (or PYO3_PYTHON) with a shared libpython, which the binary records as its
# run path. Debian's python3-dev is installed where there is no python3.
ensure_python() {
  local python=${PYO3_PYTHON:-python3}
  if ! command -v "$python" >/dev/null 2>&1; then
    ensure_command python3 python3-dev
    ensure_command pip3 python3-pip
    ensure_command python3 python3-venv
  fi
  if [ "$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("Py_ENABLE_SHARED"))')" != 1 ]; then
    echo "setup: $python has no shared libpython; the python feature needs one" \
      "(build it with --enable-shared, or build funcmesh with --no-default-features)" >&2
    return 1
  fi
  ensure_python_reachable "$python"
}

# A runner that runs as root starts its Python workers as `nobody`, who
# must reach the libpython the binary was built against (and its standard
# library); otherwise the loader takes a system libpython of the same name,
# or none. A Python under a private home (pyenv in /root, mode 0700) is
# made reachable by letting others pass through (o+x, not read) the
# directories above it.
ensure_python_reachable() {
  local python=$1 prefix dir="" part
  [ "$(id -u)" = 0 ] || return 0
  command -v setpriv >/dev/null 2>&1 || return 0
  prefix=$("$python" -c 'import sys; print(sys.base_prefix)')
  # From the top down, so that each directory is tried once those above
  # it may be passed.
  local IFS=/
  for part in ${prefix#/}; do
    dir="$dir/$part"
    if ! setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$dir" 2>/dev/null; then
      echo "setup: letting Python workers (as nobody) reach $prefix: chmod o+x $dir" >&2
      chmod o+x "$dir"
    fi
  done
}

# A virtual environment with pytest, for the tests of the Python SDK and of
# the example Python bundles; made once, under target/.
# Also holds kubernetes-validate, which checks the manifests of k8s/ offline.
PYTEST_VERSION=9.2.0
KUBERNETES_VALIDATE_VERSION=1.37.0
ensure_pytest() {
  local venv=${CARGO_TARGET_DIR:-target}/pytest-venv
  if ! "$venv/bin/python" -m pytest --version 2>/dev/null | grep -q "$PYTEST_VERSION" ||
    ! "$venv/bin/kubernetes-validate" --version 2>/dev/null | grep -q "$KUBERNETES_VALIDATE_VERSION"; then
    echo "setup: creating $venv with pytest $PYTEST_VERSION and kubernetes-validate $KUBERNETES_VALIDATE_VERSION" >&2
    "${PYO3_PYTHON:-python3}" -m venv --clear "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "pytest==$PYTEST_VERSION" \
      "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  fi
  PYTEST="$venv/bin/python -m pytest"
  KUBERNETES_VALIDATE="$venv/bin/kubernetes-validate"
}

# NATS with JetStream on 127.0.0.1:4222 for the tests of the nats backend.
# Leaves alone whatever already answers there; otherwise installs Debian's
# nats-server if needed, starts it with JetStream (its data in
# /var/lib/nats-server) and waits until it takes connections.
ensure_nats() {
  local timeout=${FUNCMESH_NATS_TIMEOUT:-30}
  if nats_answers; then
    return 0
  fi
  ensure_command nats-server nats-server
  local sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "setup: starting nats-server with JetStream" >&2
  $sudo mkdir -p /var/lib/nats-server
  $sudo start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  await_port 4222 "$timeout" NATS /var/log/nats-server.log
}

# Whether something accepts TCP connections on 127.0.0.1:4222.
nats_answers() {
  (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null
}

# A Kafka-compatible broker for the tests of the kafka backend: tansu, built
# from crates.io once per machine into ~/.cargo/bin (about 20 minutes on two
# cores), with the dynostore feature for its in-memory storage. Sets TANSU.
TANSU_VERSION=0.6.0
ensure_tansu() {
  TANSU=${FUNCMESH_TANSU:-$(command -v tansu || echo "$HOME/.cargo/bin/tansu")}
  if [ -x "$TANSU" ] && "$TANSU" --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
    return 0
  fi
  echo "setup: building the tansu broker $TANSU_VERSION from crates.io (once per machine)" >&2
  # Its own target directory, so that the project's build cache is not disturbed.
  CARGO_TARGET_DIR="${TMPDIR:-/tmp}/tansu-build" \
    cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore --quiet
  rm -rf "${TMPDIR:-/tmp}/tansu-build"
  TANSU="$HOME/.cargo/bin/tansu"
}

# A Kafka-compatible broker on 127.0.0.1:9092 for the tests of the kafka
# backend: tansu, its data in memory, started in the background (its log in
# ${TMPDIR:-/tmp}/funcmesh-kafka.log). Leaves alone whatever already answers
# there. `scripts/kafka-broker stop` stops the one started here.
KAFKA_PORT=9092
KAFKA_PIDFILE=${TMPDIR:-/tmp}/funcmesh-kafka.pid
ensure_kafka() {
  local timeout=${FUNCMESH_KAFKA_TIMEOUT:-30}
  # The Kafka TLS tests put socat, a TLS terminator, in front of a tansu of
  # their own (tansu 0.6.0 cannot serve TLS itself).
  ensure_command socat socat
  if kafka_answers; then
    return 0
  fi
  ensure_tansu
  echo "setup: starting tansu on 127.0.0.1:$KAFKA_PORT (in memory)" >&2
  setsid "$TANSU" broker \
    --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --storage-engine memory://tansu/ \
    >"${TMPDIR:-/tmp}/funcmesh-kafka.log" 2>&1 </dev/null &
  echo $! >"$KAFKA_PIDFILE"
  local deadline=$((SECONDS + timeout))
  until kafka_answers; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "setup: tansu did not answer on 127.0.0.1:$KAFKA_PORT within ${timeout}s;" \
        "see ${TMPDIR:-/tmp}/funcmesh-kafka.log" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "setup: tansu is up on 127.0.0.1:$KAFKA_PORT" >&2
}

# Stops the broker that ensure_kafka started, and waits until it has exited.
stop_kafka() {
  local pid
  pid=$(cat "$KAFKA_PIDFILE" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$KAFKA_PIDFILE"
}

# Whether something accepts TCP connections on 127.0.0.1:9092.
kafka_answers() {
  (exec 3<>/dev/tcp/127.0.0.1/$KAFKA_PORT) 2>/dev/null
}

# A real Kubernetes API server for the tests of the Kubernetes orchestrator
# and of k8s/: Debian's kube-apiserver v1.20.2, built once per machine from
# Debian's own source package (about 10 minutes on two cores) into
# ~/.cache/funcmesh (FUNCMESH_CACHE), with Debian's etcd beside it. The
# tests start both on loopback ports of their own and stop them after.
# Sets and exports FUNCMESH_KUBE_APISERVER and FUNCMESH_ETCD.
KUBE_VERSION=1.20.2
ensure_kube_apiserver() {
  local cache=${FUNCMESH_CACHE:-$HOME/.cache/funcmesh}
  local bin="$cache/kube-apiserver-$KUBE_VERSION/kube-apiserver"
  ensure_command etcd etcd-server
  export FUNCMESH_ETCD=${FUNCMESH_ETCD:-$(command -v etcd)}
  if [ -n "${FUNCMESH_KUBE_APISERVER:-}" ] && [ -x "$FUNCMESH_KUBE_APISERVER" ]; then
    return 0
  fi
  export FUNCMESH_KUBE_APISERVER=$bin
  if [ -x "$bin" ]; then
    return 0
  fi
  echo "setup: building kube-apiserver $KUBE_VERSION from Debian's source (once per machine)" >&2
  local sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  local work
  work=$(mktemp -d "${TMPDIR:-/tmp}/kube-build.XXXXXX")
  chmod 755 "$work" # apt fetches as its own user
  # A sources list of our own with deb-src lines for the machine's bookworm
  # mirror, so that the machine's own lists are left as they are.
  local mirror
  mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
  mirror=${mirror:-http://deb.debian.org/debian}
  mkdir -p "$work/apt/lists/partial"
  echo "deb-src $mirror bookworm main" >"$work/sources.list"
  local apt_own=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=-"
    -o "Dir::State::Lists=$work/apt/lists")
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    golang-1.19-go golang-github-modern-go-reflect2-dev dpkg-dev rsync >/dev/null
  $sudo apt-get "${apt_own[@]}" update -qq
  (cd "$work" && apt-get "${apt_own[@]}" source -qq --download-only kubernetes >/dev/null &&
    dpkg-source -x --no-check ./kubernetes_*.dsc src >/dev/null)
  # The vendored reflect2 1.0.1 crashes on every PATCH under Go 1.18 and
  # newer; Debian's 1.0.2 does not.
  rm -rf "$work/src/vendor/github.com/modern-go/reflect2"
  cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$work/src/vendor/github.com/modern-go/"
  (cd "$work/src" && PATH=/usr/lib/go-1.19/bin:$PATH \
    make WHAT=cmd/kube-apiserver >"$work/build.log" 2>&1) || {
    echo "setup: building kube-apiserver failed; see $work/build.log" >&2
    return 1
  }
  mkdir -p "$(dirname "$bin")"
  cp "$work/src/_output/local/bin/linux/amd64/kube-apiserver" "$bin.tmp"
  mv "$bin.tmp" "$bin"
  rm -rf "$work"
  echo "setup: kube-apiserver is at $bin" >&2
}

# cargo-fuzz, for scripts/fuzz: installed from crates.io once per machine.
CARGO_FUZZ_VERSION=0.13.2
ensure_cargo_fuzz() {
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "setup: installing cargo-fuzz $CARGO_FUZZ_VERSION from crates.io (once per machine)" >&2
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --quiet
  fi
}
