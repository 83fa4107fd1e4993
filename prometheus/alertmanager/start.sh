#!/bin/sh
# Entrypoint of the alertmanager service: writes the configuration Alertmanager runs with from
# alertmanager.yml and the notification channels that are set up, then starts Alertmanager.
# Each channel is optional and independent; a channel that is not set up is a clear no-op
# (its blocks are left out, the log says so), never a crash or a stream of failed sends. Only
# a setting that is there but malformed (SMTP_SMARTHOST without a port) stops the start.
#
#   channel   on when                                        settings
#   Slack     slack_webhook_url holds an http(s) URL         SLACK_WEBHOOK_URL
#   paging    paging_routing_key holds a key                 PAGING_ROUTING_KEY, PAGING_URL
#   e-mail    SMTP_SMARTHOST and ALERT_EMAIL_TO are set      SMTP_SMARTHOST, ALERT_EMAIL_TO,
#                                                            ALERT_EMAIL_FROM, SMTP_REQUIRE_TLS,
#                                                            SMTP_AUTH_USERNAME, SMTP_AUTH_PASSWORD
#
# Secrets (SLACK_WEBHOOK_URL, PAGING_URL, PAGING_ROUTING_KEY, SMTP_AUTH_PASSWORD) may come as
# variables (compose passes them from .env) or as files in the secrets directory (slack_webhook_url,
# paging_url, paging_routing_key, smtp_auth_password; e.g. mounted Docker or Kubernetes secrets).
# A variable that is set is written to its file (mode 0600) and removed from the environment
# before Alertmanager starts, so neither its environment nor its status page holds a secret:
# Alertmanager reads them from the files itself (the *_file fields). The one exception is the
# paging URL, which Alertmanager takes only inline: it is in the written configuration (on the
# same tmpfs) and on the status page; PagerDuty's own URL is not a secret.
#
# Environment (defaults are the container's paths):
#   ALERTMANAGER_CONFIG_DIR   alertmanager.yml and alertmanager/templates/  (/etc/alertmanager)
#   ALERTMANAGER_SECRETS_DIR  secret files; the written configuration goes here too, as
#                             alertmanager.generated.yml             (/etc/alertmanager/secrets)
#   ALERTMANAGER_BIN          the binary to start                   (/bin/alertmanager)
# Every argument is passed on to Alertmanager (e.g. --storage.path, --web.external-url).
# After a change to .env or alertmanager.yml, restart the container: a reload (SIGHUP,
# POST /-/reload) rereads the written configuration, not alertmanager.yml.
# POSIX sh with awk, head and tr: runs in the busybox of the prom/alertmanager image (checked
# under Debian's busybox; the image's busybox is the official busybox:glibc).
set -eu

config_dir=${ALERTMANAGER_CONFIG_DIR:-/etc/alertmanager}
secrets_dir=${ALERTMANAGER_SECRETS_DIR:-/etc/alertmanager/secrets}
binary=${ALERTMANAGER_BIN:-/bin/alertmanager}
generated="$secrets_dir/alertmanager.generated.yml"

say() { echo "alertmanager: $*" >&2; }

umask 077
mkdir -p "$secrets_dir"

# A secret given as a variable goes to its file, and leaves the environment.
store() { # VARIABLE FILE
  eval "value=\${$1:-}"
  if [ -n "$value" ]; then
    printf '%s' "$value" > "$secrets_dir/$2"
  fi
  unset "$1"
  value=""
}
store SLACK_WEBHOOK_URL slack_webhook_url
store PAGING_URL paging_url
store PAGING_ROUTING_KEY paging_routing_key
store SMTP_AUTH_PASSWORD smtp_auth_password

# First line of a file, blanks removed (Alertmanager trims secret files the same way); empty
# when the file is missing.
first_line() {
  if [ -r "$1" ]; then
    head -n 1 "$1" | tr -d ' \t\r'
  fi
}

# Values that were obviously never filled in.
is_placeholder() {
  case "$1" in
    *REPLACE*|*replace*|*changeme*|*CHANGEME*|*placeholder*|*PLACEHOLDER*|*"..."*) return 0 ;;
  esac
  return 1
}

off=""

# --- Slack (critical, high, default) -----------------------------------------------------
slack_file="$secrets_dir/slack_webhook_url"
slack_url=$(first_line "$slack_file")
if is_placeholder "$slack_url"; then
  off="$off slack"
  say "$slack_file holds a placeholder, not a webhook URL: Slack notifications are off"
else
  case "$slack_url" in
    https://*|http://*)
      say "Slack webhook URL found in $slack_file: Slack notifications are on (critical, high)" ;;
    *)
      off="$off slack"
      say "no Slack webhook URL in $slack_file (set SLACK_WEBHOOK_URL in .env): Slack notifications are off" ;;
  esac
fi

# --- paging (critical) -------------------------------------------------------------------
key_file="$secrets_dir/paging_routing_key"
url_file="$secrets_dir/paging_url"
paging_key=$(first_line "$key_file")
paging_url=$(first_line "$url_file")
if [ -z "$paging_url" ]; then
  paging_url=https://events.pagerduty.com/v2/enqueue
fi
if [ -z "$paging_key" ]; then
  off="$off paging"
  say "no paging routing key in $key_file (set PAGING_ROUTING_KEY in .env): paging is off"
elif is_placeholder "$paging_key" || is_placeholder "$paging_url"; then
  off="$off paging"
  say "the paging routing key or URL is a placeholder: paging is off"
else
  case "$paging_url" in
    https://*|http://*)
      say "paging routing key found in $key_file: paging of critical alerts is on (Events API v2)" ;;
    *)
      off="$off paging"
      say "$url_file holds no http(s) URL (set PAGING_URL in .env, or leave it empty for PagerDuty): paging is off" ;;
  esac
fi

# --- e-mail (high, medium, default) ------------------------------------------------------
smarthost=${SMTP_SMARTHOST:-}
email_to=${ALERT_EMAIL_TO:-}
email_from=${ALERT_EMAIL_FROM:-}
if [ -z "$email_from" ]; then
  # the first recipient (ALERT_EMAIL_TO may be a comma-separated list)
  email_from=$(printf '%s' "${email_to%%,*}" | tr -d ' ')
fi
auth_user=${SMTP_AUTH_USERNAME:-}
password_file="$secrets_dir/smtp_auth_password"
case "${SMTP_REQUIRE_TLS:-true}" in
  false|False|FALSE|no|No|NO|0) require_tls=false ;;
  *) require_tls=true ;;
esac
if [ -z "$smarthost" ] || [ -z "$email_to" ]; then
  off="$off email"
  say "SMTP_SMARTHOST or ALERT_EMAIL_TO is empty (.env): e-mail notifications are off"
else
  case "$smarthost" in
    *:[0-9]*) ;;
    *)
      say "SMTP_SMARTHOST must be host:port (e.g. smtp.example.com:587), not '$smarthost'"
      exit 1 ;;
  esac
  if [ -z "$auth_user" ]; then
    off="$off smtp-auth"
    auth="no login"
  elif [ ! -s "$password_file" ]; then
    off="$off smtp-auth"
    auth="no login: SMTP_AUTH_USERNAME is set but SMTP_AUTH_PASSWORD is empty"
  else
    auth="login as $auth_user"
  fi
  say "e-mail to $email_to via $smarthost ($auth, STARTTLS required: $require_tls): e-mail notifications are on (high, medium)"
fi

if [ "$off" = " slack paging email" ]; then
  say "no notification channel is set up: alerts are grouped and shown at the web UI, and sent nowhere"
fi
say "low alerts are for the dashboard only: they are never sent"

# Drop the blocks of channels that are off; put each setting where alertmanager.yml marks it.
RAGTRACE_AM_OFF=$off \
SLACK_WEBHOOK_URL_FILE=$slack_file \
PAGING_URL=$paging_url \
PAGING_ROUTING_KEY_FILE=$key_file \
SMTP_SMARTHOST=$smarthost \
SMTP_REQUIRE_TLS=$require_tls \
SMTP_AUTH_USERNAME=$auth_user \
SMTP_AUTH_PASSWORD_FILE=$password_file \
ALERT_EMAIL_FROM=$email_from \
ALERT_EMAIL_TO=$email_to \
ALERTMANAGER_TEMPLATES=$config_dir/alertmanager/templates/*.tmpl \
awk '
  # A YAML double-quoted string (true and false stay booleans).
  function yaml(v,   out, i, c) {
    if (v == "true" || v == "false") return v
    out = ""
    for (i = 1; i <= length(v); i++) {
      c = substr(v, i, 1)
      if (c == "\\" || c == "\"") out = out "\\"
      out = out c
    }
    return "\"" out "\""
  }
  BEGIN {
    n = split(ENVIRON["RAGTRACE_AM_OFF"], names, " ")
    for (i = 1; i <= n; i++) off[names[i]] = 1
    skip = ""
  }
  skip != "" {
    if ($0 ~ ("^[ \t]*# end: " skip "[ \t]*$")) skip = ""
    next
  }
  /^[ \t]*# channel: / {
    if ($3 in off) { skip = $3; next }
  }
  /# start\.sh: [A-Z_]+[ \t]*$/ {
    i = index($0, "# start.sh: ")
    var = substr($0, i + 12)
    sub(/[ \t]+$/, "", var)
    if (!(var in ENVIRON)) {
      print "alertmanager: start.sh has no value for " var > "/dev/stderr"
      exit 1
    }
    body = substr($0, 1, i - 1)
    sub(/[ \t]+$/, "", body)
    match(body, /[^ \t]+$/)
    print substr(body, 1, RSTART - 1) yaml(ENVIRON[var]) "  # start.sh: " var
    next
  }
  { print }
' "$config_dir/alertmanager.yml" > "$generated"

say "configuration written to $generated (from $config_dir/alertmanager.yml)"
exec "$binary" --config.file="$generated" "$@"
