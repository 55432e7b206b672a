# Intent "TLS" / "HTTPS": traffic must be encrypted in transit with TLS 1.2 or newer.
package tfagent.rules.tls_min_version

import data.tfagent.lib
import rego.v1

modern_storage_tls := {"TLS1_2", "TLS1_3"}

modern_tls := {"1.2", "1.3"}

deny contains msg if {
	some sa in lib.of_type("azurerm_storage_account")
	not lib.value(sa, "min_tls_version", "TLS1_0") in modern_storage_tls
	msg := concat("", [sa.address, ": min_tls_version must be TLS 1.2 — set min_tls_version = \"TLS1_2\""])
}

deny contains msg if {
	some sa in lib.of_type("azurerm_storage_account")
	some flag in ["enable_https_traffic_only", "https_traffic_only_enabled"]
	lib.value(sa, flag, true) == false
	msg := concat("", [sa.address, ": plain HTTP is allowed — set ", flag, " = true"])
}

deny contains msg if {
	some t in ["azurerm_mssql_server", "azurerm_redis_cache"]
	some s in lib.of_type(t)
	not lib.value(s, "minimum_tls_version", "1.0") in modern_tls
	msg := concat("", [s.address, ": minimum_tls_version must be 1.2 — set minimum_tls_version = \"1.2\""])
}

deny contains msg if {
	some cache in lib.of_type("azurerm_redis_cache")
	some flag in ["enable_non_ssl_port", "non_ssl_port_enabled"]
	lib.value(cache, flag, false) == true
	msg := concat("", [cache.address, ": the non-TLS port 6379 is open — set ", flag, " = false"])
}

deny contains msg if {
	some t in ["azurerm_postgresql_server", "azurerm_mysql_server"]
	some s in lib.of_type(t)
	lib.value(s, "ssl_enforcement_enabled", false) != true
	msg := concat("", [s.address, ": TLS is not enforced — set ssl_enforcement_enabled = true and ssl_minimal_tls_version_enforced = \"TLS1_2\""])
}

deny contains msg if {
	some t in ["azurerm_postgresql_server", "azurerm_mysql_server"]
	some s in lib.of_type(t)
	lib.value(s, "ssl_minimal_tls_version_enforced", "TLSEnforcementDisabled") != "TLS1_2"
	msg := concat("", [s.address, ": set ssl_minimal_tls_version_enforced = \"TLS1_2\""])
}

web_apps := ["azurerm_app_service", "azurerm_linux_web_app", "azurerm_windows_web_app", "azurerm_function_app", "azurerm_linux_function_app", "azurerm_windows_function_app"]

deny contains msg if {
	some t in web_apps
	some app in lib.of_type(t)
	lib.value(app, "https_only", false) != true
	msg := concat("", [app.address, ": plain HTTP is served — set https_only = true"])
}

deny contains msg if {
	some t in web_apps
	some app in lib.of_type(t)
	version := object.get(lib.first_block(app.values, "site_config"), "minimum_tls_version", "1.2")
	not version in modern_tls
	msg := concat("", [app.address, ": site_config.minimum_tls_version must be \"1.2\""])
}

redirects_to_https(listener) if {
	some action in object.get(listener.values, "default_action", [])
	action.type == "redirect"
	lib.first_block(action, "redirect").protocol == "HTTPS"
}

deny contains msg if {
	some t in ["aws_lb_listener", "aws_alb_listener"]
	some l in lib.of_type(t)
	lib.value(l, "protocol", "HTTP") == "HTTP"
	not redirects_to_https(l)
	msg := concat("", [l.address, ": the listener serves plain HTTP — use protocol = \"HTTPS\" with a certificate_arn, or make its default_action a redirect to HTTPS"])
}

deny contains msg if {
	some t in ["aws_lb_listener", "aws_alb_listener"]
	some l in lib.of_type(t)
	lib.value(l, "protocol", "HTTP") in {"HTTPS", "TLS"}
	policy := lib.value(l, "ssl_policy", "ELBSecurityPolicy-2016-08")
	not contains(policy, "TLS-1-2")
	not contains(policy, "TLS13")
	msg := concat("", [l.address, ": ssl_policy \"", policy, "\" still accepts TLS 1.0/1.1 — set ssl_policy = \"ELBSecurityPolicy-TLS13-1-2-2021-06\""])
}

deny contains msg if {
	some d in lib.of_type("aws_cloudfront_distribution")
	lib.first_block(d.values, "default_cache_behavior").viewer_protocol_policy == "allow-all"
	msg := concat("", [d.address, ": viewers may use plain HTTP — set default_cache_behavior.viewer_protocol_policy = \"redirect-to-https\" (or \"https-only\")"])
}

deny contains msg if {
	some t in ["aws_elasticsearch_domain", "aws_opensearch_domain"]
	some d in lib.of_type(t)
	options := lib.first_block(d.values, "domain_endpoint_options")
	object.get(options, "enforce_https", false) != true
	msg := concat("", [d.address, ": HTTPS is not enforced — add domain_endpoint_options { enforce_https = true, tls_security_policy = \"Policy-Min-TLS-1-2-2019-07\" }"])
}
