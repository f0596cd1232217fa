"""The playbooks' filters (rs_*): a thin registration of the rightsize controller package.

Every rule lives in rightsize/ (installed into .venv by `make venv`), where the report and the
unit tests import it too; this file only maps filter names to its functions.
"""
try:
    from rightsize import checks, facts, generator, mlflowlog, names, payloads, plan, records, registry, values
except ImportError as error:
    MISSING = ("the rightsize controller package is missing: run `make venv` and use .venv/bin/ansible-playbook "
               f"({error})")
    try:
        from ansible.errors import AnsibleError
    except ImportError:  # not under Ansible at all: the same message as a plain ImportError
        raise ImportError(MISSING) from None
    raise AnsibleError(MISSING) from None


class FilterModule:
    def filters(self):
        return {
            "rs_docker_bytes": names.docker_bytes,
            "rs_variant_name": names.variant_name,
            "rs_plan_variants": plan.plan_variants,
            "rs_steps_planned": plan.steps_planned,
            "rs_expected_text": plan.expected_text,
            "rs_search_replicas": values.search_replicas,
            "rs_preflight_errors": checks.preflight_errors,
            "rs_payload_errors": payloads.payload_errors,
            "rs_probe_body": payloads.probe_body,
            "rs_container_summary": facts.container_summary,
            "rs_missing_worker_hosts": facts.missing_worker_hosts,
            "rs_expected_workers": facts.expected_workers,
            "rs_run_record": records.run_record,
            "rs_variant_record": records.variant_record,
            "rs_generator_warning": generator.preflight_warning,
            "rs_run_image": records.with_image,
            "rs_image_source": registry.image_source,
            "rs_content_tag": registry.content_tag,
            "rs_repo_digest": registry.repo_digest,
            "rs_registry_url": registry.registry_url,
            "rs_registry_check_error": registry.registry_check_error,
            "rs_compose_choice": registry.compose_choice,
            "rs_mlflow_group_uri": mlflowlog.group_uri,
        }
