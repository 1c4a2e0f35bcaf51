package providers

import (
	"github.com/mongocrypt-go/mongocrypt/internal/kms"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/local"
)

func init() { register(kms.TypeLocal, local.New) }
