package terraform.validation

# Judged on the whole folder after the change: the web security group still lets HTTPS in from
# anywhere, and now lets SSH in from the office network 203.0.113.0/24 only (an ingress block or an
# aws_security_group_rule); SSH is open to nothing wider.

default is_configuration_valid = false

default https_kept = false

default office_ssh = false

# the web group's ingress rules: its own ingress blocks, or aws_security_group_rule resources on it
web_rule_resource(r) {
	r.type == "aws_security_group_rule"
	r.values.type == "ingress"
	c := input.configuration.root_module.resources[_]
	c.address == r.address
	c.expressions.security_group_id.references[_] == "aws_security_group.web"
}

https(rule) {
	rule.from_port == 443
	rule.to_port == 443
	rule.cidr_blocks[_] == "0.0.0.0/0"
}

covers_ssh(rule) {
	rule.from_port <= 22
	rule.to_port >= 22
}

office(rule) {
	covers_ssh(rule)
	rule.cidr_blocks == ["203.0.113.0/24"]
}

wider(rule) {
	covers_ssh(rule)
	cidr := rule.cidr_blocks[_]
	cidr != "203.0.113.0/24"
}

https_kept {
	sg := input.planned_values.root_module.resources[_]
	sg.address == "aws_security_group.web"
	rule := sg.values.ingress[_]
	https(rule)
}

https_kept {
	r := input.planned_values.root_module.resources[_]
	web_rule_resource(r)
	https(r.values)
}

office_ssh {
	sg := input.planned_values.root_module.resources[_]
	sg.address == "aws_security_group.web"
	rule := sg.values.ingress[_]
	office(rule)
}

office_ssh {
	r := input.planned_values.root_module.resources[_]
	web_rule_resource(r)
	office(r.values)
}

# undefined (not false) when nothing opens SSH wider: the judge fails any rule that is false
ssh_open_wider {
	sg := input.planned_values.root_module.resources[_]
	sg.address == "aws_security_group.web"
	rule := sg.values.ingress[_]
	wider(rule)
}

ssh_open_wider {
	r := input.planned_values.root_module.resources[_]
	web_rule_resource(r)
	wider(r.values)
}

is_configuration_valid {
	https_kept
	office_ssh
	not ssh_open_wider
}
