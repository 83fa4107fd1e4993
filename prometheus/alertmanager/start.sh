#!/bin/sh
# Entrypoint of the alertmanager service: starts Alertmanager with Slack notifications when a
# Slack webhook URL is configured, and without them otherwise, so that a missing, empty or
# placeholder secret is a clear no-op instead of a crash or a stream of failed sends.
#
#   secret file (SLACK_WEBHOOK_URL_FILE, default /etc/alertmanager/secrets/slack_webhook_url)
#     holds an http(s) URL  -> alertmanager.yml       (routes by severity to Slack)
#     anything else         -> alertmanager-noop.yml  (a "null" receiver; alerts stay in the UI)
#
# Every argument is passed on to Alertmanager (e.g. --storage.path, --web.external-url).
# POSIX sh: runs in the busybox shell of the prom/alertmanager image.
set -eu

config_dir=${ALERTMANAGER_CONFIG_DIR:-/etc/alertmanager}
secret=${SLACK_WEBHOOK_URL_FILE:-/etc/alertmanager/secrets/slack_webhook_url}
binary=${ALERTMANAGER_BIN:-/bin/alertmanager}

url=""
if [ -r "$secret" ]; then
  # First line, surrounding blanks removed (Alertmanager trims the file the same way).
  url=$(head -n 1 "$secret" | tr -d ' \t\r')
fi

case "$url" in
  *REPLACE*|*replace*|*changeme*|*CHANGEME*|*placeholder*|*PLACEHOLDER*)
    config="$config_dir/alertmanager-noop.yml"
    echo "alertmanager: $secret holds a placeholder, not a webhook URL: Slack notifications are off ($config)" >&2
    ;;
  https://*|http://*)
    config="$config_dir/alertmanager.yml"
    echo "alertmanager: Slack webhook URL found in $secret: notifications by severity ($config)" >&2
    ;;
  *)
    config="$config_dir/alertmanager-noop.yml"
    echo "alertmanager: no Slack webhook URL in $secret (set SLACK_WEBHOOK_URL in .env): Slack notifications are off, alerts stay visible in the UI ($config)" >&2
    ;;
esac

exec "$binary" --config.file="$config" "$@"
