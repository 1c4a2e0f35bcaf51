package providers

import (
	"github.com/mongocrypt-go/mongocrypt/internal/kms"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/aws"
)

func init() { register(kms.TypeAWS, aws.New) }
