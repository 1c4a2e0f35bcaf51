package providers

import (
	"github.com/mongocrypt-go/mongocrypt/internal/kms"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/gcp"
)

func init() { register(kms.TypeGCP, gcp.New) }
