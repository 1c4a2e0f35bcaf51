package providers

import (
	"github.com/mongocrypt-go/mongocrypt/internal/kms"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/azure"
)

func init() { register(kms.TypeAzure, azure.New) }
