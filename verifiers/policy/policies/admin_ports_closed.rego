# Always for firewalls: administration and database ports must not be open to the whole internet.
package tfagent.rules.admin_ports_closed

import data.tfagent.lib
import rego.v1

admin_ports := {22: "SSH", 3389: "RDP", 3306: "MySQL", 5432: "PostgreSQL", 1433: "SQL Server", 1521: "Oracle", 27017: "MongoDB", 6379: "Redis"}

open_cidrs := {"0.0.0.0/0", "::/0"}

azure_open_sources := {"*", "0.0.0.0/0", "::/0", "Internet", "Any"}

all_protocols := {"-1", "all", -1}

# --- aws: from_port/to_port/protocol ---------------------------------------------------------
aws_covers(rule, port) if rule.protocol in all_protocols

aws_covers(rule, port) if {
	not rule.protocol in all_protocols
	rule.protocol != "udp"
	rule.from_port <= port
	port <= rule.to_port
}

aws_open(rule) if {
	some cidr in array.concat(object.get(rule, "cidr_blocks", []), object.get(rule, "ipv6_cidr_blocks", []))
	cidr in open_cidrs
}

aws_fix := " — restrict cidr_blocks to the admin network (e.g. your VPN's CIDR) or reach the host through SSM Session Manager / a bastion"

finding(address, port, source) := concat("", [address, ": ingress from ", source, " on port ", format_int(port, 10), " (", admin_ports[port], ") is open to the internet"])

deny contains msg if {
	some sg in lib.of_type("aws_security_group")
	some rule in lib.value(sg, "ingress", [])
	aws_open(rule)
	some port, _ in admin_ports
	aws_covers(rule, port)
	msg := concat("", [finding(sg.address, port, "0.0.0.0/0"), aws_fix])
}

deny contains msg if {
	some rule in lib.of_type("aws_security_group_rule")
	lib.value(rule, "type", "") == "ingress"
	aws_open(rule.values)
	some port, _ in admin_ports
	aws_covers(rule.values, port)
	msg := concat("", [finding(rule.address, port, "0.0.0.0/0"), aws_fix])
}

deny contains msg if {
	some rule in lib.of_type("aws_vpc_security_group_ingress_rule")
	some key in ["cidr_ipv4", "cidr_ipv6"]
	rule.values[key] in open_cidrs
	normalized := {"protocol": lib.value(rule, "ip_protocol", "tcp"), "from_port": lib.value(rule, "from_port", 0), "to_port": lib.value(rule, "to_port", 0)}
	some port, _ in admin_ports
	aws_covers(normalized, port)
	msg := concat("", [finding(rule.address, port, rule.values[key]), " — set ", key, " to the admin network's CIDR instead"])
}

# --- azure: security rules with port strings "22", "*", "1000-2000" --------------------------
port_spec_covers(spec, port) if spec == "*"

port_spec_covers(spec, port) if {
	is_number(spec)
	spec == port
}

port_spec_covers(spec, port) if {
	is_string(spec)
	not contains(spec, "-")
	spec != "*"
	to_number(spec) == port
}

port_spec_covers(spec, port) if {
	is_string(spec)
	bounds := split(spec, "-")
	count(bounds) == 2
	to_number(bounds[0]) <= port
	port <= to_number(bounds[1])
}

azure_sources(rule) := array.concat([object.get(rule, "source_address_prefix", "")], object.get(rule, "source_address_prefixes", []))

azure_ports(rule) := array.concat([object.get(rule, "destination_port_range", "")], object.get(rule, "destination_port_ranges", []))

# [display address, rule] for inline NSG rules and separate rule resources alike.
azure_rules contains [address, rule] if {
	some nsg in lib.of_type("azurerm_network_security_group")
	some rule in lib.value(nsg, "security_rule", [])
	address := concat("", [nsg.address, " security_rule \"", object.get(rule, "name", "?"), "\""])
}

azure_rules contains [rule.address, rule.values] if {
	some rule in lib.of_type("azurerm_network_security_rule")
}

deny contains msg if {
	some [address, rule] in azure_rules
	lower(object.get(rule, "direction", "")) == "inbound"
	lower(object.get(rule, "access", "")) == "allow"
	some source in azure_sources(rule)
	source in azure_open_sources
	some port, _ in admin_ports
	some spec in azure_ports(rule)
	port_spec_covers(spec, port)
	msg := concat("", [
		finding(address, port, concat("", ["source_address_prefix \"", source, "\""])),
		" — set source_address_prefix to the admin network's CIDR (or use Azure Bastion)",
	])
}
