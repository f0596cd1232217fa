#!/bin/sh
# The tracking server on the MariaDB backend store, artifacts served by itself (--serve-artifacts).
# The password is read from the compose secret so it never sits in the container's environment.
set -eu
password=$(cat "${MLFLOW_DB_PASSWORD_FILE:-/run/secrets/mlflow_db_password}")
password=$(python -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$password")
exec mlflow server \
    --backend-store-uri "mysql+pymysql://${MLFLOW_DB_USER:-mlflow}:${password}@${MLFLOW_DB_HOST:-db}:3306/${MLFLOW_DB:-mlflow}" \
    --serve-artifacts --artifacts-destination /mlartifacts \
    --host 0.0.0.0 --port 5000 --workers "${MLFLOW_WORKERS:-2}" \
    --allowed-hosts "${MLFLOW_ALLOWED_HOSTS:-*}"
