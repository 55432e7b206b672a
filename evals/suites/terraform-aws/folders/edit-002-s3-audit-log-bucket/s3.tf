resource "aws_s3_bucket" "app" {
  bucket = "${var.project}-app-assets"
  acl    = "private"

  versioning {
    enabled = true
  }

  tags = {
    Project = var.project
  }
}
