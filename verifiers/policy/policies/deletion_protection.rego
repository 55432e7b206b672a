# Intent "purge protection" / "soft delete" / "deletion protection": secrets and databases must survive
# an accidental delete.
package tfagent.rules.deletion_protection

import data.tfagent.lib
import rego.v1

deny contains msg if {
	some kv in lib.of_type("azurerm_key_vault")
	lib.value(kv, "purge_protection_enabled", false) != true
	msg := concat("", [kv.address, ": deleted keys and secrets can be purged at once — set purge_protection_enabled = true (and soft_delete_retention_days = 7..90)"])
}

deny contains msg if {
	some t in ["aws_db_instance", "aws_rds_cluster", "aws_docdb_cluster", "aws_neptune_cluster"]
	some db in lib.of_type(t)
	lib.value(db, "deletion_protection", false) != true
	msg := concat("", [db.address, ": the database can be deleted by one call — set deletion_protection = true"])
}

deny contains msg if {
	some key in lib.of_type("aws_kms_key")
	lib.value(key, "deletion_window_in_days", 30) < 7
	msg := concat("", [key.address, ": deletion_window_in_days must be at least 7"])
}
