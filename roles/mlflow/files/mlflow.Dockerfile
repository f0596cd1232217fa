# The MLflow tracking server (a pinned version, with PyMySQL for the MariaDB backend store),
# built from the python base. MLFLOW_VERSION / PYMYSQL_VERSION come from the role's defaults.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ARG MLFLOW_VERSION
ARG PYMYSQL_VERSION
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/mlflow \
    && /opt/mlflow/bin/pip install "mlflow==${MLFLOW_VERSION}" "pymysql==${PYMYSQL_VERSION}" \
    && useradd --uid 10002 --user-group --create-home --home-dir /home/mlflow --shell /usr/sbin/nologin mlflow \
    && mkdir -p /mlartifacts && chown mlflow:mlflow /mlartifacts
COPY mlflow-server.sh /usr/local/bin/mlflow-server.sh
ENV PATH=/opt/mlflow/bin:$PATH PYTHONUNBUFFERED=1
USER 10002:10002
VOLUME /mlartifacts
EXPOSE 5000
CMD ["sh", "/usr/local/bin/mlflow-server.sh"]
