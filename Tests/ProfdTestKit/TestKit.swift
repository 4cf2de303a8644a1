public enum ProfdTestKitPlaceholder {}
