package providers

import (
	"github.com/mongocrypt-go/mongocrypt/internal/kms"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/kmip"
)

func init() {
	register(kms.TypeKMIP, func(cfg kms.Config) (kms.Provider, error) { return kmip.New(cfg) })
}
