# Pure-Rego stand-ins for OPA builtins that regopy (rego-cpp) lacks. Policies calling the builtin are
# rewritten to call these (rego_eval.py: STANDINS).
package tfagent.standins

import rego.v1

ipv4_octet := `(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])`

ipv4_cidr := concat("", ["^", ipv4_octet, `(\.`, ipv4_octet, "){3}/(3[0-2]|[12]?[0-9])$"])

hex_group := `^[0-9a-fA-F]{1,4}$`

valid_groups(groups) if {
	every g in groups {
		regex.match(hex_group, g)
	}
}

# IPv6 in full form: exactly 8 groups.
ipv6_address(addr) if {
	not contains(addr, "::")
	groups := split(addr, ":")
	count(groups) == 8
	valid_groups(groups)
}

# "::"-compressed: at most 7 written groups around a single "::".
ipv6_address(addr) if {
	sides := split(addr, "::")
	count(sides) == 2
	groups := [g | some side in sides; side != ""; some g in split(side, ":")]
	count(groups) <= 7
	valid_groups(groups)
}

ipv6_cidr(cidr) if {
	parts := split(cidr, "/")
	count(parts) == 2
	regex.match(`^(12[0-8]|1[01][0-9]|[1-9]?[0-9])$`, parts[1])
	ipv6_address(parts[0])
}

# net.cidr_is_valid(cidr): true when cidr is a valid IPv4 or IPv6 CIDR, false otherwise.
cidr_is_valid(cidr) := true if {
	is_string(cidr)
	regex.match(ipv4_cidr, cidr)
} else := true if {
	is_string(cidr)
	ipv6_cidr(cidr)
} else := false
