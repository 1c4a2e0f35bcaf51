package mongocrypt

import (
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/keyvault"
)

func parseKeyDoc(doc bson.Raw) (*keyvault.Key, error) {
	k, err := keyvault.ParseKey(doc)
	if err != nil {
		return nil, &Error{Code: CodeKeyVault, Err: &KeyVaultError{Op: "parse", Err: err}}
	}
	return k, nil
}
