#!/bin/sh
# First start: initialise the data directory and create MLFLOW_DB / MLFLOW_DB_USER; then serve.
# MARIADB_PASSWORD_FILE holds the user's password (a compose secret, never an environment value).
set -eu
password=$(cat "${MARIADB_PASSWORD_FILE:-/run/secrets/mlflow_db_password}")
if [ ! -d /var/lib/mysql/mysql ]; then
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
    mariadbd --user=mysql --datadir=/var/lib/mysql --skip-networking --socket=/run/mysqld/init.sock &
    pid=$!
    i=0
    until mariadb --socket=/run/mysqld/init.sock -e 'SELECT 1' >/dev/null 2>&1; do
        i=$((i + 1)); [ "$i" -lt 60 ] || { echo "mariadb did not start" >&2; exit 1; }; sleep 1
    done
    mariadb --socket=/run/mysqld/init.sock <<SQL
CREATE DATABASE IF NOT EXISTS \`${MLFLOW_DB:-mlflow}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER IF NOT EXISTS '${MLFLOW_DB_USER:-mlflow}'@'%' IDENTIFIED BY '${password}';
GRANT ALL PRIVILEGES ON \`${MLFLOW_DB:-mlflow}\`.* TO '${MLFLOW_DB_USER:-mlflow}'@'%';
FLUSH PRIVILEGES;
SQL
    kill "$pid"; wait "$pid" || true
fi
exec mariadbd --user=mysql --datadir=/var/lib/mysql --bind-address=0.0.0.0 --port=3306 \
    --skip-name-resolve --character-set-server=utf8mb4 --collation-server=utf8mb4_bin
