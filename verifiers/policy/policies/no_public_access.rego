# Intent "private" / "no public access": storage, key vaults and databases must not be reachable or
# readable from the internet.
package tfagent.rules.no_public_access

import data.tfagent.lib
import rego.v1

public_acls := {"public-read", "public-read-write", "authenticated-read"}

pab_settings := ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]

deny contains msg if {
	some b in lib.of_type("aws_s3_bucket")
	acl := lib.value(b, "acl", "private")
	acl in public_acls
	msg := concat("", [b.address, ": acl = \"", acl, "\" makes the bucket readable by anyone — set acl = \"private\" or leave acl out"])
}

deny contains msg if {
	some a in lib.of_type("aws_s3_bucket_acl")
	acl := lib.value(a, "acl", "private")
	acl in public_acls
	msg := concat("", [a.address, ": acl = \"", acl, "\" makes the bucket readable by anyone — set acl = \"private\""])
}

fully_blocked(pab) if {
	every setting in pab_settings {
		lib.value(pab, setting, false) == true
	}
}

blocked(bucket) if {
	some pab in lib.of_type("aws_s3_bucket_public_access_block")
	lib.attaches(pab, "bucket", bucket)
	fully_blocked(pab)
}

deny contains msg if {
	some b in lib.of_type("aws_s3_bucket")
	not blocked(b)
	msg := concat("", [
		b.address, ": public access is not blocked — add an aws_s3_bucket_public_access_block with bucket = ",
		lib.base_address(b.address), ".id, block_public_acls = true, block_public_policy = true, ",
		"ignore_public_acls = true, restrict_public_buckets = true",
	])
}

# Databases with an internet endpoint. Redshift's publicly_accessible defaults to true.
deny contains msg if {
	some t in ["aws_db_instance", "aws_rds_cluster_instance"]
	some db in lib.of_type(t)
	lib.value(db, "publicly_accessible", false) == true
	msg := concat("", [db.address, ": publicly_accessible = true gives the database an internet endpoint — set publicly_accessible = false"])
}

deny contains msg if {
	some rs in lib.of_type("aws_redshift_cluster")
	lib.value(rs, "publicly_accessible", true) != false
	msg := concat("", [rs.address, ": the cluster is publicly accessible by default — set publicly_accessible = false"])
}

# Azure: network access must be closed, either switched off or denied by default.
network_closed(r, acl_block) if lib.value(r, "public_network_access_enabled", true) == false

network_closed(r, acl_block) if lib.first_block(r.values, acl_block).default_action == "Deny"

deny contains msg if {
	some sa in lib.of_type("azurerm_storage_account")
	not network_closed(sa, "network_rules")
	msg := concat("", [sa.address, ": the storage account accepts traffic from the internet — set public_network_access_enabled = false (or add network_rules { default_action = \"Deny\" })"])
}

nested_items_private(sa) if lib.value(sa, "allow_nested_items_to_be_public", true) == false

nested_items_private(sa) if lib.value(sa, "allow_blob_public_access", true) == false

deny contains msg if {
	some sa in lib.of_type("azurerm_storage_account")
	not nested_items_private(sa)
	msg := concat("", [sa.address, ": containers and blobs may be made public — set allow_nested_items_to_be_public = false (azurerm < 3.0: allow_blob_public_access = false)"])
}

deny contains msg if {
	some c in lib.of_type("azurerm_storage_container")
	access := lib.value(c, "container_access_type", "private")
	access != "private"
	msg := concat("", [c.address, ": container_access_type = \"", access, "\" makes blobs readable by anyone — set container_access_type = \"private\""])
}

deny contains msg if {
	some kv in lib.of_type("azurerm_key_vault")
	not network_closed(kv, "network_acls")
	msg := concat("", [kv.address, ": the key vault accepts traffic from the internet — set public_network_access_enabled = false or add network_acls { default_action = \"Deny\", bypass = \"AzureServices\" }"])
}

azure_servers := [
	"azurerm_mssql_server", "azurerm_postgresql_server", "azurerm_mysql_server", "azurerm_mariadb_server",
	"azurerm_cosmosdb_account", "azurerm_redis_cache", "azurerm_container_registry",
]

deny contains msg if {
	some t in azure_servers
	some s in lib.of_type(t)
	lib.value(s, "public_network_access_enabled", true) != false
	msg := concat("", [s.address, ": public network access is on by default — set public_network_access_enabled = false (reach it through a private endpoint)"])
}

deny contains msg if {
	some t in ["azurerm_mssql_firewall_rule", "azurerm_sql_firewall_rule", "azurerm_postgresql_firewall_rule", "azurerm_mysql_firewall_rule"]
	some rule in lib.of_type(t)
	lib.value(rule, "start_ip_address", "") == "0.0.0.0"
	lib.value(rule, "end_ip_address", "") == "255.255.255.255"
	msg := concat("", [rule.address, ": the firewall rule admits every IPv4 address — narrow start_ip_address/end_ip_address to the clients that need access"])
}
