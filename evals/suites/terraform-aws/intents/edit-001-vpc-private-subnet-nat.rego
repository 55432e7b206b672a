package terraform.validation

# Judged on the whole folder after the change: the VPC and its public subnet are kept, a private
# subnet is added to that VPC, a NAT gateway with an elastic IP sits in the public subnet, and the
# private subnet's default route goes through it (a route block or an aws_route).

default is_configuration_valid = false

default kept_existing = false

default private_routed_through_nat = false

has_address(address) {
	input.configuration.root_module.resources[_].address == address
}

kept_existing {
	has_address("aws_vpc.main")
	has_address("aws_subnet.public")
	has_address("aws_internet_gateway.main")
}

public_ip(s) {
	s.expressions.map_public_ip_on_launch.constant_value == true
}

private_subnet(s) {
	s.type == "aws_subnet"
	s.name != "public"
	s.expressions.vpc_id.references[_] == "aws_vpc.main.id"
	not public_ip(s)
}

nat_in_public_subnet(n) {
	n.type == "aws_nat_gateway"
	n.expressions.subnet_id.references[_] == "aws_subnet.public.id"
	eip := n.expressions.allocation_id.references[_]
	startswith(eip, "aws_eip.")
}

# a route block: the configuration keeps only the references of all routes, the plan the CIDRs
table_to_nat(t) {
	t.type == "aws_route_table"
	n := input.configuration.root_module.resources[_]
	nat_in_public_subnet(n)
	t.expressions.route.references[_] == n.address
	planned := input.planned_values.root_module.resources[_]
	planned.address == t.address
	planned.values.route[_].cidr_block == "0.0.0.0/0"
}

table_to_nat(t) {
	t.type == "aws_route_table"
	r := input.configuration.root_module.resources[_]
	r.type == "aws_route"
	r.expressions.destination_cidr_block.constant_value == "0.0.0.0/0"
	r.expressions.route_table_id.references[_] == t.address
	n := input.configuration.root_module.resources[_]
	nat_in_public_subnet(n)
	r.expressions.nat_gateway_id.references[_] == n.address
}

private_routed_through_nat {
	a := input.configuration.root_module.resources[_]
	a.type == "aws_route_table_association"
	s := input.configuration.root_module.resources[_]
	private_subnet(s)
	a.expressions.subnet_id.references[_] == s.address
	t := input.configuration.root_module.resources[_]
	a.expressions.route_table_id.references[_] == t.address
	table_to_nat(t)
}

is_configuration_valid {
	kept_existing
	private_routed_through_nat
}
