;;; driver.el --- drive starcoder-ls through Eglot in `emacs --batch' -*- lexical-binding: t; -*-

;; Reads its inputs from the environment and writes what it saw as JSON to
;; $STARCODER_RESULT, for tests/editors/test_emacs.py to judge:
;;   STARCODER_ARGS      JSON list of extra server arguments (--model, --log-file)
;;   STARCODER_INIT      JSON object merged into the initializationOptions
;;   STARCODER_FILE      file to visit; completion happens at the end of STARCODER_LINE
;;   STARCODER_TIMEOUT   seconds to wait for the model
;;   STARCODER_COMPANION JSON list: a language server to run beside starcoder-ls
;;                       through the multiplexer $STARCODER_MULTIPLEXER; then the
;;                       candidates of both are listed and ours is chosen, as in a menu

(require 'json)
(require 'starcoder-ls)

(defvar driver-result nil)

;; Eglot's requests time out after 10 s; a busy 2-core machine can take longer to
;; generate.  A user's Emacs keeps the default.
(setq jsonrpc-default-request-timeout 120)

(defun driver-put (key value)
  (setq driver-result (plist-put driver-result key value)))

(defun driver-env-json (name default)
  (let ((text (getenv name)))
    (if (and text (not (string-empty-p text)))
        (json-parse-string text :object-type 'plist :array-type 'list)
      default)))

(defun driver-wait (predicate timeout what)
  (let ((deadline (+ (float-time) timeout)))
    (while (not (funcall predicate))
      (when (> (float-time) deadline)
        (error "Timed out waiting for %s" what))
      (accept-process-output nil 0.1))))

(defun driver-lsp-detail (proxy)
  (or (plist-get (get-text-property 0 'eglot--lsp-item proxy) :detail) ""))

(defun driver-choose-ours ()
  "List every server's candidates here, then take starcoder-ls's as a menu would.
The multiplexer answers with what came within 3 s; a slower generation finishes
anyway and is cached by the server, so asking again (as a user would) gets it."
  (let (capf candidates ours (attempts 0))
    (while (and (not ours) (< attempts 15))
      (when (> attempts 0) (sleep-for 2))
      (setq attempts (1+ attempts))
      (setq capf (eglot-completion-at-point))
      (setq candidates (all-completions
                        (buffer-substring-no-properties (nth 0 capf) (nth 1 capf))
                        (nth 2 capf)))
      (setq ours (seq-find (lambda (proxy)
                             (string-prefix-p "starcoder-ls" (driver-lsp-detail proxy)))
                           candidates)))
    (driver-put :attempts attempts)
    (driver-put :candidates
                (vconcat (mapcar (lambda (proxy)
                                   (list :candidate (substring-no-properties proxy)
                                         :detail (driver-lsp-detail proxy)))
                                 candidates)))
    (when ours
      (delete-region (nth 0 capf) (nth 1 capf))
      (insert ours)
      (funcall (plist-get (nthcdr 3 capf) :exit-function) ours 'finished))))

(defun driver-main ()
  (let* ((timeout (string-to-number (or (getenv "STARCODER_TIMEOUT") "120")))
         (extra-args (driver-env-json "STARCODER_ARGS" nil))
         (extra-init (driver-env-json "STARCODER_INIT" nil)))
    (driver-put :emacs_version emacs-version)
    (driver-put :eglot_version (or (and (boundp 'eglot-version) eglot-version)
                                   (ignore-errors (package-get-version))
                                   "?"))
    (driver-put :default_program starcoder-ls-program)
    (setq starcoder-ls-args extra-args)
    (when-let ((companion (driver-env-json "STARCODER_COMPANION" nil)))
      (setq starcoder-ls-multiplexer (getenv "STARCODER_MULTIPLEXER"))
      (setq starcoder-ls-companion-servers `((python-mode . ,companion))))
    (setq starcoder-ls-initialization-options
          (append extra-init starcoder-ls-initialization-options))
    (starcoder-ls-eglot-setup)
    (find-file (getenv "STARCODER_FILE"))
    (driver-put :major_mode (symbol-name major-mode))
    (driver-put :contact (format "%S" (starcoder-ls-contact)))
    (let ((eglot-sync-connect timeout))
      (call-interactively #'eglot))
    (driver-wait (lambda () (and (eglot-current-server) eglot--managed-mode)) timeout "Eglot")
    (let ((server (eglot-current-server)))
      (driver-put :server_capabilities (eglot--capabilities server))
      (let (status)
        (driver-wait (lambda ()
                       (setq status (jsonrpc-request server :workspace/executeCommand
                                                     '(:command "starcoder.status" :arguments [])))
                       (member (plist-get status :state) '("ready" "error")))
                     timeout "the model")
        (driver-put :status status))
      (driver-put :status_command (starcoder-ls-status))
      (driver-put :last_status_notification starcoder-ls-last-status))
    (goto-char (point-min))
    (forward-line (1- (string-to-number (getenv "STARCODER_LINE"))))
    (end-of-line)
    (driver-put :before (buffer-substring-no-properties (line-beginning-position) (line-end-position)))
    (if starcoder-ls-companion-servers
        (driver-choose-ours)
      ;; What C-M-i does.  One candidate: it is inserted, and Eglot's exit function
      ;; replaces it with the item's textEdit.
      (completion-at-point))
    (driver-put :after (buffer-substring-no-properties (line-beginning-position) (line-end-position)))
    (driver-put :buffer (buffer-substring-no-properties (point-min) (point-max)))
    (driver-put :point_line (line-number-at-pos))))

(let ((ok (condition-case err
              (progn (driver-main) t)
            (error (driver-put :error (error-message-string err)) nil))))
  (with-temp-file (getenv "STARCODER_RESULT")
    (insert (json-serialize driver-result :null-object nil :false-object :json-false)))
  (ignore-errors (eglot-shutdown (eglot-current-server)))
  (kill-emacs (if ok 0 3)))
