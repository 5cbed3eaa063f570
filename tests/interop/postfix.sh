#!/usr/bin/env bash
# Postfix on loopback, set up like the book's mail.example.com and like a mail provider, for the
# interoperability suite (tests/interop/postfix_test.ts). Needs root and Debian's apt-get.
# Run it with no arguments or -h for the usage and the warning below.
set -euo pipefail

CERTDIR=/etc/postfix/interop
TLS_PORT=2587
PLAIN_AUTH_PORT=2588
NO_TLS_PORT=2589
SUBMISSION_PORT=5870
IMPLICIT_TLS_PORT=4650
PORTS="25 $TLS_PORT $PLAIN_AUTH_PORT $NO_TLS_PORT $SUBMISSION_PORT $IMPLICIT_TLS_PORT"
LOG=/var/log/postfix.log

usage() {
  cat <<EOF
usage: bash $0 VERB...      VERB: install configure start stop status

  bash $0 install configure start   # then: SMTP_INTEROP=postfix deno task test:interop
  bash $0 stop

WARNING: this changes the machine it runs on. Run it as root on a test machine, a container or
a CI runner, never on a host whose mail matters:
  - install: apt-get installs postfix, sasl2-bin, libsasl2-modules and openssl (apt removes any
    other MTA, such as exim4);
  - configure: REWRITES THIS MACHINE'S POSTFIX CONFIGURATION (main.cf, master.cf, the aliases
    database), makes all mail local-only (nothing is ever relayed or sent off the machine),
    creates the Unix user brandon if missing and RESETS ITS PASSWORD to abc123 (in
    /etc/shadow and in /etc/sasldb2), and writes a test CA and its key to $CERTDIR;
  - start/stop: start or stop this machine's Postfix daemons.
Every verb can be run again safely.

What it sets up, on 127.0.0.1 and ::1 only:
  port 25 and $TLS_PORT  STARTTLS offered; AUTH (PLAIN LOGIN CRAM-MD5) only after STARTTLS
  port $PLAIN_AUTH_PORT         the same, but AUTH also without TLS (login.ts never says STARTTLS)
  port $NO_TLS_PORT         no STARTTLS at all, AUTH in plain text: what a client sees when an attacker
                    strips STARTTLS (--starttls must refuse to go on)
  port $SUBMISSION_PORT         submission, like a provider's 587: STARTTLS required, AUTH only after
                    it, and MAIL refused without AUTH
  port $IMPLICIT_TLS_PORT         the same with implicit TLS from the first byte, like a provider's 465
  user brandon, password abc123; mail for brandon@localhost lands in the mbox /var/mail/brandon
  the test CA is $CERTDIR/ca.crt (pass it to deno run --cert); log: $LOG
EOF
}

say() { echo "[postfix.sh] $*"; }

# Postfix, Cyrus SASL's tools (saslpasswd2) and its PLAIN, LOGIN and CRAM-MD5 plugins.
PACKAGES="postfix sasl2-bin libsasl2-modules openssl"

installed() {
  local status
  status=$(dpkg-query -W -f '${Status}\n' $PACKAGES 2>/dev/null) || return 1
  ! grep -qv ' installed$' <<<"$status"
}

install_packages() {
  if installed; then
    say "already installed: postfix $(postconf -dh mail_version)"
    return 0
  fi
  local started=$SECONDS
  # Packages must not start daemons: policy-rc.d says no to every service start (removed again
  # on the way out, failure included).
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
  fi
  debconf-set-selections <<'EOF'
postfix postfix/main_mailer_type select Local only
postfix postfix/mailname string mail.example.com
EOF
  # A fresh machine may have no package lists yet.
  timeout 300 apt-get update -q </dev/null
  # Postfix conflicts with other MTAs (exim4, opensmtpd): apt removes them.
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confold $PACKAGES </dev/null
  say "installed postfix $(postconf -dh mail_version) in $((SECONDS - started))s"
}

make_certificates() {
  mkdir -p "$CERTDIR"
  [ -s "$CERTDIR/ca.crt" ] && [ -s "$CERTDIR/localhost.crt" ] && return 0
  # Deno (rustls) will not accept a self-signed CA as the server's own certificate, so: a CA,
  # and a certificate for localhost signed by it.
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Interop Test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
    -keyout "$CERTDIR/ca.key" -out "$CERTDIR/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$CERTDIR/localhost.key" -out "$CERTDIR/localhost.csr" 2>/dev/null
  cat >"$CERTDIR/localhost.ext" <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
EOF
  openssl x509 -req -in "$CERTDIR/localhost.csr" -CA "$CERTDIR/ca.crt" -CAkey "$CERTDIR/ca.key" \
    -CAcreateserial -days 3650 -extfile "$CERTDIR/localhost.ext" \
    -out "$CERTDIR/localhost.crt" 2>/dev/null
  chmod 644 "$CERTDIR/ca.crt" "$CERTDIR/localhost.crt"
  chmod 600 "$CERTDIR/ca.key" "$CERTDIR/localhost.key"
  say "made $CERTDIR/ca.crt and a certificate for localhost"
}

configure() {
  id brandon >/dev/null 2>&1 || useradd -m -s /bin/bash brandon
  echo 'brandon:abc123' | chpasswd
  make_certificates

  # The book's mail.example.com, answering for localhost too. Relaying needs AUTH (loopback is
  # in mynetworks only so that anvil's rate limits never apply to the tests), and whatever is
  # relayed or not local goes to the error transport: nothing ever leaves the machine.
  # smtpd_peername_lookup = no: no reverse DNS for clients.
  postconf -e \
    'myhostname = mail.example.com' \
    'mydomain = example.com' \
    'myorigin = $myhostname' \
    'mydestination = $myhostname, localhost, localhost.localdomain' \
    'inet_interfaces = loopback-only' \
    'inet_protocols = all' \
    'mynetworks = 127.0.0.0/8 [::1]/128' \
    'smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination' \
    'relay_transport = error:relaying is off on this test server' \
    'default_transport = error:only local delivery on this test server' \
    'smtpd_peername_lookup = no' \
    'biff = no' \
    'append_dot_mydomain = no' \
    'recipient_delimiter = +' \
    'message_size_limit = 10240000' \
    'mailbox_size_limit = 0' \
    'home_mailbox =' \
    'mail_spool_directory = /var/mail' \
    "maillog_file = $LOG" \
    "smtpd_tls_cert_file = $CERTDIR/localhost.crt" \
    "smtpd_tls_key_file = $CERTDIR/localhost.key" \
    'smtpd_tls_security_level = may' \
    'smtpd_tls_auth_only = yes' \
    'smtpd_tls_received_header = yes' \
    'smtpd_sasl_auth_enable = yes' \
    'smtpd_sasl_type = cyrus' \
    'smtpd_sasl_path = smtpd' \
    'cyrus_sasl_config_path = /etc/postfix/sasl' \
    'smtpd_sasl_local_domain = localhost' \
    'smtpd_sasl_security_options = noanonymous' \
    'smtpd_sasl_tls_security_options = noanonymous' \
    'smtpd_client_auth_rate_limit = 0' \
    'smtpd_client_connection_rate_limit = 0'
  # No chroot: the SASL database and config stay where they are (a test rig, not a mail host).
  postconf -F '*/*/chroot = n'
  # Extra listeners; a service name without an address binds to inet_interfaces (loopback).
  postconf -M "$TLS_PORT/inet=$TLS_PORT inet n - n - - smtpd"
  postconf -M "$PLAIN_AUTH_PORT/inet=$PLAIN_AUTH_PORT inet n - n - - smtpd"
  postconf -P "$PLAIN_AUTH_PORT/inet/smtpd_tls_auth_only=no"
  postconf -M "$NO_TLS_PORT/inet=$NO_TLS_PORT inet n - n - - smtpd"
  postconf -P "$NO_TLS_PORT/inet/syslog_name=postfix/notls" \
    "$NO_TLS_PORT/inet/smtpd_tls_security_level=none" \
    "$NO_TLS_PORT/inet/smtpd_tls_auth_only=no"
  # Like a provider's 587 and 465: TLS always, AUTH only under TLS, and no MAIL without AUTH
  # (smtpd_delay_reject=no makes Postfix refuse the MAIL command itself, not the RCPT after it).
  local port
  for port in "$SUBMISSION_PORT" "$IMPLICIT_TLS_PORT"; do
    postconf -M "$port/inet=$port inet n - n - - smtpd"
    postconf -P \
      "$port/inet/smtpd_tls_security_level=encrypt" \
      "$port/inet/smtpd_tls_auth_only=yes" \
      "$port/inet/smtpd_sasl_auth_enable=yes" \
      "$port/inet/smtpd_delay_reject=no" \
      "$port/inet/smtpd_client_restrictions=" \
      "$port/inet/smtpd_helo_restrictions=" \
      "$port/inet/smtpd_sender_restrictions=permit_sasl_authenticated,reject" \
      "$port/inet/smtpd_relay_restrictions=permit_sasl_authenticated,reject" \
      "$port/inet/smtpd_recipient_restrictions="
  done
  postconf -P "$SUBMISSION_PORT/inet/syslog_name=postfix/submission" \
    "$SUBMISSION_PORT/inet/smtpd_tls_wrappermode=no"
  postconf -P "$IMPLICIT_TLS_PORT/inet/syslog_name=postfix/smtps" \
    "$IMPLICIT_TLS_PORT/inet/smtpd_tls_wrappermode=yes"

  # Cyrus SASL with sasldb: it keeps the password itself, which CRAM-MD5 needs.
  mkdir -p /etc/postfix/sasl
  cat >/etc/postfix/sasl/smtpd.conf <<'EOF'
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN CRAM-MD5
sasldb_path: /etc/sasldb2
EOF
  echo -n abc123 | saslpasswd2 -p -c -u localhost -f /etc/sasldb2 brandon
  chgrp postfix /etc/sasldb2
  chmod 640 /etc/sasldb2

  # brandon's mbox, as local(8) would make it on the first delivery: the suite checks it is there.
  [ -e /var/mail/brandon ] || install -m 600 -o brandon -g mail /dev/null /var/mail/brandon

  newaliases
  touch "$LOG"
  postfix check
  say "configured (ports $PORTS on loopback; CA $CERTDIR/ca.crt)"
}

running() { timeout 10 postfix status >/dev/null 2>&1; }

wait_for_ports() {
  local port
  for port in $PORTS; do
    for _ in $(seq 50); do
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue 2
      sleep 0.2
    done
    say "nothing listens on port $port after 10s; see $LOG"
    return 1
  done
}

start() {
  if running; then
    timeout 30 postfix reload </dev/null >>"$LOG" 2>&1
    say "already running: reloaded the configuration"
  else
    # The daemons inherit our stdout: send it to the log, or a caller's pipe never closes.
    timeout 30 postfix start </dev/null >>"$LOG" 2>&1 || {
      tail -20 "$LOG"
      return 1
    }
  fi
  wait_for_ports
  say "postfix $(postconf -h mail_version) listening on 127.0.0.1 and ::1, ports $PORTS"
}

stop() {
  command -v postfix >/dev/null || return 0
  local pid
  pid=$(tr -d ' ' </var/spool/postfix/pid/master.pid 2>/dev/null || true)
  running && timeout 30 postfix stop </dev/null >>"$LOG" 2>&1 || true
  if [ -n "$pid" ]; then
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -0 "$pid" 2>/dev/null && kill "$pid" 2>/dev/null || true
  fi
  say "stopped"
}

status() {
  if command -v postfix >/dev/null && running; then
    say "postfix $(postconf -h mail_version) is running"
    ss -ltn | grep -E ":(${PORTS// /|})\b" || true
  else
    say "postfix is not running"
    return 1
  fi
}

if [ $# -eq 0 ]; then
  usage >&2
  exit 2
fi
case " $* " in *" -h "* | *" --help "* | *" help "*)
  usage
  exit 0
  ;;
esac
if [ "$(id -u)" != 0 ]; then
  echo "$0: needs root (it installs and configures this machine's Postfix); see: bash $0 -h" >&2
  exit 1
fi
for verb in "$@"; do
  case "$verb" in
    install) install_packages ;;
    configure) configure ;;
    start) start ;;
    stop) stop ;;
    status) status ;;
    *)
      echo "$0: unknown verb '$verb'" >&2
      usage >&2
      exit 2
      ;;
  esac
done
