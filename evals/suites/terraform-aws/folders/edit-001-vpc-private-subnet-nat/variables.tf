variable "region" {
  type    = string
  default = "us-east-1"
}

variable "name" {
  type    = string
  default = "shop"
}
