"""The AWS adapters: the only package of the service that imports boto3 (clients, errors, Bedrock, S3)."""
