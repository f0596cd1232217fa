# MLflow's backend store: Debian's MariaDB (the seed's MySQL), built from the local Debian base.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends mariadb-server \
    && rm -rf /var/lib/apt/lists/* /var/lib/mysql/* \
    && mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
COPY mariadb-entrypoint.sh /usr/local/bin/mariadb-entrypoint.sh
VOLUME /var/lib/mysql
EXPOSE 3306
CMD ["sh", "/usr/local/bin/mariadb-entrypoint.sh"]
