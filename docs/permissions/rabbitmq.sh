#!/bin/sh
# Minimal RabbitMQ permissions for one funcmesh mesh: one broker user per
# component, never guest. Verified with RabbitMQ 3.10.8 (see docs/security.md).
#
#   NS=prod VHOST=funcmesh docs/permissions/rabbitmq.sh   # bus URLs amqp://fm-X:PASS@host:5672/funcmesh?namespace=prod
#   NS=     VHOST=funcmesh docs/permissions/rabbitmq.sh   # bus URLs without ?namespace=
#
# Passwords: GATEWAY_PASS, TRON_PASS, RUNNER_PASS, CAPTURE_PASS (random, printed, if unset).
# USERS: the users' name prefix (default fm-: fm-gateway, fm-tron, ...).
# fm-capture is for `funcmesh capture` (on/off, --from-queue); leave it out if unused.
# Run again, it sets the passwords and permissions anew.
set -eu
NS=${NS-}
VHOST=${VHOST:-funcmesh}
U=${USERS:-fm-}
pw() { head -c 18 /dev/urandom | base64 | tr '+/' '-_'; }

# L: the literal name prefix ("prod." or ""); P: the same as a regex ("prod\." or "").
L=""; P=""
if [ -n "$NS" ]; then L="$NS."; P="$(printf '%s' "$NS" | sed 's/\./\\./g')\\."; fi
F="${P}funcmesh"
WORK="${F}\\.work"                    # direct exchange every queue publish goes through
CONTROL="${F}\\.control"              # topic exchange of the control broadcasts
GEN='amq\.gen-.*'                     # server-named exclusive queues: control listeners, taps
FUNC="${F}\\.func\\.[0-9a-f]{16}"     # Func queues
REPLY="${F}\\.reply\\.[^.]+"          # gateway reply queues (use .+ if --id values hold dots)
FIREHOSE="${F}\\.firehose"
DEAD="${F}\\.dead-letter"
PARKED="${F}\\.dead-letter\\.parked"

rabbitmqctl add_vhost "$VHOST"
for c in gateway tron runner capture; do
  var=$(echo "$c" | tr a-z A-Z)_PASS
  eval "pass=\${$var:-}"
  if [ -z "$pass" ]; then pass=$(pw); echo "$U$c password: $pass"; fi
  if rabbitmqctl -q list_users --no-table-headers | cut -f1 | grep -qx "$U$c"; then
    rabbitmqctl change_password "$U$c" "$pass"
  else
    rabbitmqctl add_user "$U$c" "$pass"
  fi
done

# set_permissions USER CONFIGURE WRITE READ      (regexes, anchored here)
rabbitmqctl set_permissions -p "$VHOST" "${U}gateway" \
  "^($WORK|$CONTROL|$REPLY|$GEN)\$" \
  "^($WORK|$CONTROL|$REPLY|$GEN)\$" \
  "^($WORK|$CONTROL|$REPLY|$GEN)\$"
rabbitmqctl set_permissions -p "$VHOST" "${U}tron" \
  "^($WORK|$CONTROL|$FIREHOSE|$DEAD|$PARKED|$FUNC|$GEN)\$" \
  "^($WORK|$CONTROL|$FIREHOSE|$DEAD|$PARKED|$FUNC|$GEN|amq\\.default)\$" \
  "^($WORK|$CONTROL|$FIREHOSE|$DEAD|$FUNC|$GEN)\$"
rabbitmqctl set_permissions -p "$VHOST" "${U}runner" \
  "^($WORK|$CONTROL|$GEN)\$" \
  "^($WORK|$CONTROL|$GEN)\$" \
  "^($CONTROL|$FUNC|$GEN)\$"
rabbitmqctl set_permissions -p "$VHOST" "${U}capture" \
  "^($WORK|$CONTROL|$GEN)\$" \
  "^($CONTROL|$GEN)\$" \
  "^($WORK|$CONTROL|$GEN)\$"

# Routing keys on the control exchange (topic authorisation): WRITE = publish, READ = bind.
# The exchange argument is the literal exchange name, not a regex.
rabbitmqctl set_topic_permissions -p "$VHOST" "${U}gateway" "${L}funcmesh.control" '^hello$' '^routes$'
rabbitmqctl set_topic_permissions -p "$VHOST" "${U}tron"    "${L}funcmesh.control" '^(routes|scaler)$' '^(hello|capture|runner\.stats|scaler)$'
rabbitmqctl set_topic_permissions -p "$VHOST" "${U}runner"  "${L}funcmesh.control" '^(hello|runner\.stats)$' '^routes$'
rabbitmqctl set_topic_permissions -p "$VHOST" "${U}capture" "${L}funcmesh.control" '^(capture|hello)$' '^routes$'
